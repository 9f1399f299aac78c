package deploy

import (
	"bufio"
	"debug/buildinfo"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// instruction is one line of a Dockerfile, continuations joined.
type instruction struct{ cmd, args string }

// stage is one FROM and what follows it.
type stage struct {
	from, name string
	body       []instruction
}

func parseDockerfile(t *testing.T, path string) []stage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stages []stage
	var line string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasSuffix(l, "\\") {
			line += strings.TrimSuffix(l, "\\") + " "
			continue
		}
		line += l
		cmd, args, _ := strings.Cut(line, " ")
		line = ""
		in := instruction{strings.ToUpper(cmd), strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			from, name, _ := strings.Cut(in.args, " AS ")
			stages = append(stages, stage{from: strings.TrimSpace(from), name: strings.TrimSpace(name)})
			continue
		}
		if len(stages) == 0 {
			t.Fatalf("%s before the first FROM", in.cmd)
		}
		stages[len(stages)-1].body = append(stages[len(stages)-1].body, in)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return stages
}

func (s stage) all(cmd string) []string {
	var out []string
	for _, in := range s.body {
		if in.cmd == cmd {
			out = append(out, in.args)
		}
	}
	return out
}

func TestDockerfileStages(t *testing.T) {
	t.Parallel()
	stages := parseDockerfile(t, "../Dockerfile")
	if len(stages) != 2 {
		t.Fatalf("%d stages, want build and runtime", len(stages))
	}
	build, final := stages[0], stages[1]

	gomod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(gomod)
	if goVersion == nil || !strings.HasPrefix(build.from, "golang:"+string(goVersion[1])) {
		t.Errorf("build stage FROM %s: want golang:%s, go.mod's version", build.from, goVersion[1])
	}
	if build.name == "" {
		t.Error("the build stage has no name")
	}
	if strings.HasPrefix(final.from, "golang") || strings.Contains(final.from, ":latest") || !strings.Contains(final.from, ":") {
		t.Errorf("runtime stage FROM %s: want a small pinned base, not the toolchain", final.from)
	}
	if copies := final.all("COPY"); len(copies) != 1 || !strings.HasPrefix(copies[0], "--from="+build.name+" /out/bank ") {
		t.Errorf("runtime COPY %v: want only the binary from %s", copies, build.name)
	}

	runs := strings.Join(final.all("RUN"), " ")
	for _, pkg := range []string{"curl", "jq", "ca-certificates"} {
		if !regexp.MustCompile(`apt-get install[^&]*\b` + pkg + `\b`).MatchString(runs) {
			t.Errorf("the runtime stage does not install %s (the runbook runs curl … | jq in the pod)", pkg)
		}
	}
	users := final.all("USER")
	if len(users) != 1 {
		t.Fatalf("USER %v: want one", users)
	}
	uid, _, _ := strings.Cut(users[0], ":")
	if uid == "0" || uid == "root" || !regexp.MustCompile(`^[0-9]+$`).MatchString(uid) {
		t.Errorf("USER %s: want a numeric non-root user (runAsNonRoot checks numbers)", users[0])
	}
	if !strings.Contains(runs, "--uid "+uid) {
		t.Errorf("user %s is not created in the image", uid)
	}
	k8s, err := os.ReadFile("k8s/base/auth-service.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(k8s), "runAsUser: "+uid) {
		t.Errorf("the Deployments do not run as the image's user %s", uid)
	}
	if got := final.all("EXPOSE"); !slices.Equal(got, []string{"8080"}) {
		t.Errorf("EXPOSE %v, want 8080", got)
	}
	if got := final.all("ENTRYPOINT"); !slices.Equal(got, []string{`["/usr/local/bin/bank"]`}) {
		t.Errorf("ENTRYPOINT %v, want the bank binary in exec form", got)
	}
}

// The Dockerfile's go build, run here with its own environment and flags,
// makes a static binary without the build machine's paths.
func TestDockerfileBuild(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: builds the binary")
	}
	var build string
	for _, r := range parseDockerfile(t, "../Dockerfile")[0].all("RUN") {
		if strings.Contains(r, "go build") {
			build = r
		}
	}
	if build == "" {
		t.Fatal("no go build in the build stage")
	}
	out := filepath.Join(t.TempDir(), "bank")
	build = strings.ReplaceAll(build, "${VERSION}", "v0.0.0-test")
	build = strings.ReplaceAll(build, "/out/bank", out)
	build = strings.ReplaceAll(build, "./cmd/bank", "../cmd/bank")
	cmd := exec.Command("sh", "-c", build)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", build, err, b)
	}

	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary asks for a dynamic loader: it is not static")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs %v", libs)
	}
	info, err := buildinfo.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if settings["-trimpath"] != "true" || settings["CGO_ENABLED"] != "0" {
		t.Errorf("build settings -trimpath=%q CGO_ENABLED=%q, want true and 0", settings["-trimpath"], settings["CGO_ENABLED"])
	}
	wd, _ := os.Getwd()
	if b, _ := os.ReadFile(out); strings.Contains(string(b), filepath.Dir(wd)) {
		t.Errorf("the binary holds the build folder %s", filepath.Dir(wd))
	}
	v, err := exec.Command(out, "version").Output()
	if err != nil || !strings.Contains(string(v), "v0.0.0-test") {
		t.Errorf("bank version: %q, %v; want the version given to the build", v, err)
	}
}

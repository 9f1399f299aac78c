package k8s

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/fintech-banking/bank/docs"
)

// kubectlCall is one kubectl command line, and where it was printed.
type kubectlCall struct {
	where, text string
}

// runbookKubectl returns the runbook's kubectl commands for the platform's
// namespace, each with its continuation lines joined.
func runbookKubectl(t *testing.T) []kubectlCall {
	t.Helper()
	var calls []kubectlCall
	for _, s := range docs.Runbook() {
		for _, st := range s.Steps {
			text := strings.ReplaceAll(st.Command, "\\\n", " ")
			if strings.Contains(text, "kubectl") && strings.Contains(text, "-n "+namespace) {
				calls = append(calls, kubectlCall{"runbook " + s.ID + " " + st.Label, text})
			}
		}
	}
	return calls
}

var inlineCode = regexp.MustCompile("`[^`]*kubectl[^`]*`")

// operationsKubectl returns the kubectl commands docs/operations.md prints
// for the platform's namespace: inline, in tables and text, and as lines of
// its fenced blocks.
func operationsKubectl(t *testing.T) []kubectlCall {
	t.Helper()
	b, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for i, part := range strings.Split(string(b), "```") {
		if i%2 == 1 { // a fenced block
			texts = append(texts, strings.Split(strings.ReplaceAll(part, "\\\n", " "), "\n")...)
			continue
		}
		for _, m := range inlineCode.FindAllString(part, -1) {
			texts = append(texts, strings.ReplaceAll(strings.Trim(m, "`"), `\|`, "|"))
		}
	}
	var calls []kubectlCall
	for _, text := range texts {
		if strings.Contains(text, "kubectl") && strings.Contains(text, "-n "+namespace) {
			calls = append(calls, kubectlCall{"docs/operations.md", text})
		}
	}
	return calls
}

// A reference to an object of the platform in a kubectl command.
type objectRef struct{ kind, name string }

// refs reads the objects a kubectl command names: deployment/NAME,
// deployment NAME (also hpa, ingress, job), and -l app=NAME. The value of
// -f and -k is a file, not an object.
func refs(text string) []objectRef {
	kinds := map[string]string{"deployment": "deployment", "deploy": "deployment", "hpa": "hpa", "ingress": "ingress", "job": "job"}
	name := regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	f := strings.Fields(text)
	var out []objectRef
	for i := 0; i < len(f); i++ {
		switch tok := strings.Trim(f[i], `'"()$`); {
		case tok == "-f" || tok == "-k":
			i++
		case tok == "-l" && i+1 < len(f) && strings.HasPrefix(f[i+1], "app="):
			out = append(out, objectRef{"app", strings.TrimPrefix(f[i+1], "app=")})
			i++
		case strings.Contains(tok, "/"):
			kind, n, _ := strings.Cut(tok, "/")
			if k, ok := kinds[kind]; ok && name.MatchString(n) {
				out = append(out, objectRef{k, n})
			}
		case kinds[tok] != "" && i+1 < len(f) && name.MatchString(f[i+1]):
			out = append(out, objectRef{kinds[tok], f[i+1]})
			i++
		}
	}
	return out
}

// TestRunbookKubectl checks the runbook's kubectl commands, and those of
// docs/operations.md, against the rendered overlays: every Deployment, HPA,
// Ingress, Job and app label they name exists in the namespace; the port
// they curl is the containers'; the loop of 1.3 names every Deployment; and
// the HPA that 2.2 applies is the one shipped.
func TestRunbookKubectl(t *testing.T) {
	t.Parallel()
	runbook := runbookKubectl(t)
	calls := append(slices.Clone(runbook), operationsKubectl(t)...)
	forEachOverlay(t, func(t *testing.T, r *rendered) {
		checked := 0
		for _, c := range calls {
			for _, ref := range refs(c.text) {
				checked++
				if !r.has(ref) {
					t.Errorf("%s: %s %s is not in the overlay:\n%s", c.where, ref.kind, ref.name, c.text)
				}
			}
			for _, m := range regexp.MustCompile(`localhost:(\d+)`).FindAllStringSubmatch(c.text, -1) {
				port, _ := strconv.Atoi(m[1])
				for name, d := range r.deployments {
					if ps := d.Spec.Template.Spec.Containers[0].Ports; len(ps) == 0 || int(ps[0].ContainerPort) != port {
						t.Errorf("%s: curls port %d, %s listens on %v", c.where, port, name, ps)
					}
				}
			}
		}
		if checked < 20 {
			t.Errorf("checked %d names in %d commands: the commands are no longer read", checked, len(calls))
		}

		loop := regexp.MustCompile(`for svc in ([^;]+); do`)
		var inOrder []string
		for _, c := range runbook {
			if m := loop.FindStringSubmatch(c.text); m != nil {
				inOrder = strings.Fields(m[1])
			}
		}
		var all []string
		for name := range r.deployments {
			if name != web { // the pages hold no state a restart order protects
				all = append(all, name)
			}
		}
		if diff := cmp.Diff(sorted(inOrder), sorted(all)); diff != "" {
			t.Errorf("runbook 1.3 restarts these services in order (-runbook +Deployments):\n%s", diff)
		}

		want := runbookHPA(t)
		got, ok := r.hpas[want.Name]
		if !ok {
			t.Fatalf("no HPA %s (runbook 2.2)", want.Name)
		}
		if got.Namespace != want.Namespace {
			t.Errorf("HPA %s in namespace %q, the runbook applies it in %q", want.Name, got.Namespace, want.Namespace)
		}
		if diff := cmp.Diff(got.Spec, want.Spec); diff != "" {
			t.Errorf("HPA %s differs from the one runbook 2.2 applies (-shipped +runbook):\n%s", want.Name, diff)
		}
	})
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// has reports whether the overlay holds the object ref names.
func (r *rendered) has(ref objectRef) bool {
	switch ref.kind {
	case "deployment":
		return r.deployments[ref.name] != nil
	case "hpa":
		return r.hpas[ref.name] != nil
	case "ingress":
		return r.ingresses[ref.name] != nil
	case "job":
		return r.jobs[ref.name] != nil
	case "app":
		for _, d := range r.deployments {
			if d.Spec.Template.Labels["app"] == ref.name {
				return true
			}
		}
	}
	return false
}

// runbookHPA decodes, strictly, the HPA that runbook 2.2 pipes into
// kubectl apply.
func runbookHPA(t *testing.T) *autoscalingv2.HorizontalPodAutoscaler {
	t.Helper()
	for _, s := range docs.Runbook() {
		for _, st := range s.Steps {
			body, ok := strings.CutPrefix(st.Command, "cat <<EOF | kubectl apply -f -\n")
			if !ok {
				continue
			}
			body, _, _ = strings.Cut(body, "\nEOF")
			var h autoscalingv2.HorizontalPodAutoscaler
			if err := yaml.UnmarshalStrict([]byte(body), &h); err != nil {
				t.Fatalf("runbook %s: %v", s.ID, err)
			}
			return &h
		}
	}
	t.Fatal("the runbook applies no HPA (2.2)")
	return nil
}

// TestRunbookSecret runs runbook 6.2's kubectl create, as printed and as
// docs/operations.md corrects it, with kubectl's client-side dry run (no
// cluster needed): the printed one names no namespace, the corrected one
// writes the Secret and key that every pod mounts.
func TestRunbookSecret(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("kubectl"); err != nil {
		if os.Getenv("BANK_REQUIRE_TOOLS") != "" {
			t.Fatal("kubectl is required (BANK_REQUIRE_TOOLS is set)")
		}
		t.Skip("kubectl not found")
	}
	var printed string
	for _, s := range docs.Runbook() {
		if s.ID == "6.2" {
			printed = s.Steps[0].Command
		}
	}
	ops, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	var fixed string
	for _, m := range inlineCode.FindAllString(string(ops), -1) {
		if strings.HasPrefix(m, "`kubectl create secret generic jwt-secret -n "+namespace) {
			fixed = strings.ReplaceAll(strings.Trim(m, "`"), `\|`, "|")
		}
	}
	if printed == "" || fixed == "" {
		t.Fatalf("runbook 6.2's command %q, its correction in docs/operations.md %q: want both", printed, fixed)
	}

	r := render(t, "local")
	for _, tt := range []struct {
		name, cmd, namespace string
	}{
		{"printed", printed, ""},
		{"corrected", fixed, namespace},
	} {
		// What would go to kubectl apply: the command up to the pipe, with a key.
		create, _, _ := strings.Cut(tt.cmd, "| kubectl apply")
		create = strings.ReplaceAll(create, "<new-secret-key>", "new-key")
		cmd := exec.Command("bash", "-c", create)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+t.TempDir()+"/none")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %s: %v", tt.name, create, err)
		}
		var s corev1.Secret
		if err := yaml.UnmarshalStrict(out, &s); err != nil {
			t.Fatalf("%s: %v\n%s", tt.name, err, out)
		}
		if s.Namespace != tt.namespace {
			t.Errorf("%s: Secret in namespace %q, want %q", tt.name, s.Namespace, tt.namespace)
		}
		if string(s.Data["key"]) != "new-key" || len(s.Data) != 1 {
			t.Errorf("%s: data %q, want the key under \"key\"", tt.name, s.Data)
		}
		for name, d := range r.deployments {
			if name == web {
				continue // web signs no token and checks none: the API does
			}
			if !mountsSecret(d.Spec.Template.Spec, s.Name, "key") {
				t.Errorf("%s: %s mounts no Secret %s with key \"key\"", tt.name, name, s.Name)
			}
		}
	}
}

// mountsSecret reports whether a pod mounts key of the Secret name.
func mountsSecret(spec corev1.PodSpec, name, key string) bool {
	for _, v := range spec.Volumes {
		if v.Secret != nil && v.Secret.SecretName == name &&
			slices.ContainsFunc(v.Secret.Items, func(k corev1.KeyToPath) bool { return k.Key == key }) {
			return true
		}
	}
	return false
}

package k8s

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// The Deployments and Services the runbook names (1.3), and the command each runs.
var services = map[string]string{
	"auth-service":         "auth",
	"account-service":      "account",
	"transaction-service":  "transaction",
	"payment-service":      "payment",
	"notification-service": "notification",
}

// web is the Deployment of the pages (`bank serve web`): no database, no
// tokens of its own to sign, the API called through the Ingress.
const web = "web"

// deploymentNames are the services' Deployments and web's.
func deploymentNames() []string {
	names := []string{web}
	for name := range services {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// namespace is the runbook's.
const namespace = "fintech-banking"

func forEachOverlay(t *testing.T, f func(t *testing.T, r *rendered)) {
	t.Helper()
	for _, o := range overlays {
		t.Run(o, func(t *testing.T) {
			t.Parallel()
			f(t, render(t, o))
		})
	}
}

func TestEveryObjectIsInTheNamespace(t *testing.T) {
	t.Parallel()
	forEachOverlay(t, func(t *testing.T, r *rendered) {
		if !slices.Equal(r.namespaces, []string{namespace}) {
			t.Errorf("namespaces %v, want [%s]", r.namespaces, namespace)
		}
		for i, o := range r.all {
			if _, isNS := o.(*corev1.Namespace); !isNS && o.GetNamespace() != namespace {
				t.Errorf("%s is in namespace %q", r.kinds[i], o.GetNamespace())
			}
		}
	})
}

func TestDeployments(t *testing.T) {
	t.Parallel()
	forEachOverlay(t, func(t *testing.T, r *rendered) {
		var names []string
		for name := range r.deployments {
			names = append(names, name)
		}
		slices.Sort(names)
		if diff := cmp.Diff(names, deploymentNames()); diff != "" {
			t.Fatalf("Deployments (-got +want):\n%s", diff)
		}
		for name, d := range r.deployments {
			t.Run(name, func(t *testing.T) {
				spec := d.Spec.Template.Spec
				if d.Labels["app"] != name || d.Spec.Template.Labels["app"] != name {
					t.Errorf("label app is %q on the Deployment, %q on its pods; want %q (runbook: -l app=%s)",
						d.Labels["app"], d.Spec.Template.Labels["app"], name, name)
				}
				sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
				if err != nil || sel.Empty() || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
					t.Errorf("selector %v does not select the pod template's labels %v", d.Spec.Selector, d.Spec.Template.Labels)
				}
				if d.Spec.Replicas != nil {
					t.Errorf("replicas is %d: the HPA owns the count, and apply would reset it", *d.Spec.Replicas)
				}
				ru := d.Spec.Strategy.RollingUpdate
				if d.Spec.Strategy.Type != "RollingUpdate" || ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
					t.Errorf("strategy %+v: want RollingUpdate with maxUnavailable 0", d.Spec.Strategy)
				}
				if len(spec.Containers) != 1 {
					t.Fatalf("%d containers, want 1", len(spec.Containers))
				}
				c := spec.Containers[0]
				service := services[name]
				if name == web {
					service = web
				}
				if want := []string{"serve", service}; !slices.Equal(c.Args, want) {
					t.Errorf("args %v, want %v", c.Args, want)
				}
				checkPort(t, c)
				checkProbes(t, c)
				checkResources(t, c)
				checkSecurity(t, spec.SecurityContext, c)
				checkShutdown(t, spec, c)
				if name == web {
					if ref := dbRef(c); ref != "" {
						t.Errorf("web reads a database URL from %s: it has no database", ref)
					}
					return
				}
				checkJWTSecret(t, spec, c)
				if env := envMap(c); env["BANK_MIGRATE"] != "false" {
					t.Errorf("BANK_MIGRATE=%q: the Job migrates, replicas starting together must not", env["BANK_MIGRATE"])
				}
			})
		}
	})
}

func checkPort(t *testing.T, c corev1.Container) {
	t.Helper()
	if len(c.Ports) != 1 || c.Ports[0].Name != "http" || c.Ports[0].ContainerPort != 8080 {
		t.Errorf("ports %+v, want http 8080 (runbook 4.1 curls localhost:8080)", c.Ports)
	}
	if env := envMap(c); env["BANK_HTTP_ADDR"] != ":8080" {
		t.Errorf("BANK_HTTP_ADDR=%q, want :8080", env["BANK_HTTP_ADDR"])
	}
}

func checkProbes(t *testing.T, c corev1.Container) {
	t.Helper()
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{
		{"startup", c.StartupProbe, "/actuator/health/liveness"},
		{"liveness", c.LivenessProbe, "/actuator/health/liveness"},
		{"readiness", c.ReadinessProbe, "/actuator/health/readiness"},
	} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("no HTTP %s probe", p.name)
			continue
		}
		g := p.probe.HTTPGet
		if g.Path != p.path || g.Port != intstr.FromString("http") {
			t.Errorf("%s probe GET %s on port %s, want %s on http", p.name, g.Path, g.Port.String(), p.path)
		}
	}
}

func checkResources(t *testing.T, c corev1.Container) {
	t.Helper()
	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := c.Resources.Requests[res]
		lim, okLim := c.Resources.Limits[res]
		switch {
		case !okReq || !okLim:
			t.Errorf("%s: request %v, limit %v; the HPA and the alerts need both", res, okReq, okLim)
		case req.Sign() <= 0 || req.Cmp(lim) > 0:
			t.Errorf("%s: request %s, limit %s", res, req.String(), lim.String())
		}
	}
}

func checkSecurity(t *testing.T, pod *corev1.PodSecurityContext, c corev1.Container) {
	t.Helper()
	sc := c.SecurityContext
	switch {
	case pod == nil || pod.RunAsNonRoot == nil || !*pod.RunAsNonRoot || pod.RunAsUser == nil || *pod.RunAsUser == 0:
		t.Errorf("pod security context %+v: want runAsNonRoot and a non-zero runAsUser", pod)
	case sc == nil:
		t.Error("no container security context")
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Error("root filesystem is writable")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("privilege escalation allowed")
	case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
		t.Errorf("capabilities %+v, want drop ALL and add none", sc.Capabilities)
	}
}

// checkShutdown: Kubernetes runs preStop, then sends SIGTERM; the server then
// serves BANK_SHUTDOWN_DELAY more with readiness DOWN and gives in-flight
// requests BANK_SHUTDOWN_TIMEOUT. All of it must end before the grace period
// does, or the kubelet kills requests mid-way.
func checkShutdown(t *testing.T, spec corev1.PodSpec, c corev1.Container) {
	t.Helper()
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil || c.Lifecycle.PreStop.Sleep.Seconds < 1 {
		t.Errorf("no preStop pause: %+v", c.Lifecycle)
		return
	}
	env := envMap(c)
	delay, err1 := time.ParseDuration(env["BANK_SHUTDOWN_DELAY"])
	timeout, err2 := time.ParseDuration(env["BANK_SHUTDOWN_TIMEOUT"])
	if err1 != nil || err2 != nil || delay <= 0 {
		t.Errorf("BANK_SHUTDOWN_DELAY=%q, BANK_SHUTDOWN_TIMEOUT=%q: want both, the delay above 0",
			env["BANK_SHUTDOWN_DELAY"], env["BANK_SHUTDOWN_TIMEOUT"])
		return
	}
	need := time.Duration(c.Lifecycle.PreStop.Sleep.Seconds)*time.Second + delay + timeout
	if spec.TerminationGracePeriodSeconds == nil || time.Duration(*spec.TerminationGracePeriodSeconds)*time.Second <= need {
		t.Errorf("terminationGracePeriodSeconds %v, want more than preStop + delay + timeout = %s",
			spec.TerminationGracePeriodSeconds, need)
	}
}

// checkJWTSecret: the keys are files of whole secret volumes (a subPath mount
// would never see a rotation), the current one from jwt-secret key "key".
func checkJWTSecret(t *testing.T, spec corev1.PodSpec, c corev1.Container) {
	t.Helper()
	env := envMap(c)
	for _, k := range []struct{ env, secret string }{
		{"BANK_JWT_SECRET_FILE", "jwt-secret"},
		{"BANK_JWT_PREVIOUS_SECRET_FILE", "jwt-secret-previous"},
	} {
		file := env[k.env]
		dir, base := path.Split(file)
		var mount *corev1.VolumeMount
		for i, m := range c.VolumeMounts {
			if path.Clean(m.MountPath) == path.Clean(dir) {
				mount = &c.VolumeMounts[i]
			}
		}
		if mount == nil {
			t.Errorf("%s=%q is in no mounted volume", k.env, file)
			continue
		}
		if mount.SubPath != "" || !mount.ReadOnly {
			t.Errorf("%s: mount %+v: want read-only, without subPath", k.env, mount)
		}
		var vol *corev1.Volume
		for i, v := range spec.Volumes {
			if v.Name == mount.Name {
				vol = &spec.Volumes[i]
			}
		}
		if vol == nil || vol.Secret == nil || vol.Secret.SecretName != k.secret {
			t.Errorf("%s: volume %s is not the Secret %s", k.env, mount.Name, k.secret)
			continue
		}
		if want := []corev1.KeyToPath{{Key: "key", Path: base}}; !cmp.Equal(vol.Secret.Items, want) {
			t.Errorf("%s: items %+v, want %+v (the runbook's secret has key \"key\")", k.env, vol.Secret.Items, want)
		}
	}
	if _, ok := env["BANK_JWT_SECRET"]; ok {
		t.Error("BANK_JWT_SECRET is set: an environment variable never sees a rotation")
	}
}

// envMap returns a container's literal env values ("" for valueFrom ones).
func envMap(c corev1.Container) map[string]string {
	m := map[string]string{}
	for _, e := range c.Env {
		m[e.Name] = e.Value
	}
	return m
}

// The image is the overlay's, pinned, the same in every container.
func TestImages(t *testing.T) {
	t.Parallel()
	forEachOverlay(t, func(t *testing.T, r *rendered) {
		var images []string
		for _, d := range r.deployments {
			for _, c := range d.Spec.Template.Spec.Containers {
				images = append(images, c.Image)
			}
		}
		for _, j := range r.jobs {
			for _, c := range j.Spec.Template.Spec.Containers {
				images = append(images, c.Image)
			}
		}
		slices.Sort(images)
		images = slices.Compact(images)
		if len(images) != 1 {
			t.Fatalf("images %v, want one image for every service", images)
		}
		img := images[0]
		repo, tag, ok := strings.Cut(img[strings.LastIndex(img, "/")+1:], ":")
		if !strings.Contains(img, "/") || !ok || tag == "" || tag == "latest" || repo != "bank" {
			t.Errorf("image %q: want a registry's .../bank with a pinned tag", img)
		}
	})
}

// The runbook's HPA (2.2) exactly for auth-service, the same for the others.
func TestHPAs(t *testing.T) {
	t.Parallel()
	const runbook = `
scaleTargetRef:
  apiVersion: apps/v1
  kind: Deployment
  name: auth-service
minReplicas: 3
maxReplicas: 10
metrics:
- type: Resource
  resource:
    name: cpu
    target:
      type: Utilization
      averageUtilization: 70
- type: Resource
  resource:
    name: memory
    target:
      type: Utilization
      averageUtilization: 80
`
	var want autoscalingv2.HorizontalPodAutoscalerSpec
	if err := yaml.UnmarshalStrict([]byte(runbook), &want); err != nil {
		t.Fatal(err)
	}
	forEachOverlay(t, func(t *testing.T, r *rendered) {
		if len(r.hpas) != len(deploymentNames()) {
			t.Errorf("%d HPAs, want one per Deployment", len(r.hpas))
		}
		for _, name := range deploymentNames() {
			h, ok := r.hpas[name+"-hpa"]
			if !ok {
				t.Errorf("no HPA %s-hpa", name)
				continue
			}
			w := want
			w.ScaleTargetRef.Name = name
			if diff := cmp.Diff(h.Spec, w); diff != "" {
				t.Errorf("%s-hpa differs from the runbook's (-got +want):\n%s", name, diff)
			}
		}
	})
}

// Services, PDBs and the ServiceMonitor select what they mean to.
func TestSelectors(t *testing.T) {
	t.Parallel()
	forEachOverlay(t, func(t *testing.T, r *rendered) {
		for _, name := range deploymentNames() {
			d := r.deployments[name]
			if d == nil {
				continue // TestDeployments reports it
			}
			pods := labels.Set(d.Spec.Template.Labels)
			s, ok := r.services[name]
			switch {
			case !ok:
				t.Errorf("no Service %s", name)
			case len(s.Spec.Selector) == 0 || !labels.SelectorFromSet(s.Spec.Selector).Matches(pods):
				t.Errorf("Service %s selects %v, not the pods of its Deployment %v", name, s.Spec.Selector, pods)
			case len(s.Spec.Ports) != 1 || s.Spec.Ports[0].Name != "http" || s.Spec.Ports[0].TargetPort != intstr.FromString("http"):
				t.Errorf("Service %s ports %+v, want http to the container's http", name, s.Spec.Ports)
			}
			p, ok := r.pdbs[name]
			if !ok {
				t.Errorf("no PodDisruptionBudget %s", name)
				continue
			}
			sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
			if err != nil || sel.Empty() || !sel.Matches(pods) {
				t.Errorf("PodDisruptionBudget %s selects %v, not the pods of %s", name, p.Spec.Selector, name)
			}
			// With minReplicas 3, one pod at a time may go: a drain never
			// takes a service below two.
			if p.Spec.MaxUnavailable == nil || p.Spec.MaxUnavailable.IntValue() != 1 {
				t.Errorf("PodDisruptionBudget %s: maxUnavailable %v, want 1", name, p.Spec.MaxUnavailable)
			}
		}
		if len(r.serviceMonitors) == 0 {
			t.Fatal("no ServiceMonitor")
		}
		scraped := map[string]bool{}
		for _, sm := range r.serviceMonitors {
			sel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
			if err != nil || sel.Empty() {
				t.Errorf("ServiceMonitor %s: selector %v", sm.Name, sm.Spec.Selector)
				continue
			}
			if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Path != "/actuator/prometheus" || sm.Spec.Endpoints[0].Port != "http" {
				t.Errorf("ServiceMonitor %s endpoints %+v, want port http, path /actuator/prometheus", sm.Name, sm.Spec.Endpoints)
			}
			if !slices.Equal(sm.Spec.NamespaceSelector.MatchNames, []string{namespace}) {
				t.Errorf("ServiceMonitor %s watches namespaces %v", sm.Name, sm.Spec.NamespaceSelector.MatchNames)
			}
			for _, s := range r.services {
				if sel.Matches(labels.Set(s.Labels)) {
					scraped[s.Name] = true
				}
			}
		}
		for _, name := range deploymentNames() {
			if !scraped[name] {
				t.Errorf("no ServiceMonitor selects the Service %s", name)
			}
		}
	})
}

// Every backend of fintech-ingress is a Service with that port (which
// operation each path takes: TestIngressRoutesEveryOperation).
func TestIngress(t *testing.T) {
	t.Parallel()
	forEachOverlay(t, func(t *testing.T, r *rendered) {
		ing, ok := r.ingresses["fintech-ingress"]
		if !ok {
			t.Fatal("no Ingress fintech-ingress (runbook 3.1)")
		}
		if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName == "" {
			t.Error("no ingressClassName")
		}
		for _, rule := range ing.Spec.Rules {
			for _, p := range rule.HTTP.Paths {
				b := p.Backend.Service
				s, ok := r.services[b.Name]
				if !ok {
					t.Errorf("path %s goes to %s, which is no Service", p.Path, b.Name)
					continue
				}
				if !slices.ContainsFunc(s.Spec.Ports, func(sp corev1.ServicePort) bool { return sp.Name == b.Port.Name }) {
					t.Errorf("path %s goes to port %q, which %s has not", p.Path, b.Port.Name, b.Name)
				}
			}
		}
	})
}

// The NetworkPolicies deny by default and let in the API's and Prometheus's traffic.
func TestNetworkPolicies(t *testing.T) {
	t.Parallel()
	forEachOverlay(t, func(t *testing.T, r *rendered) {
		denies, scrapes := false, false
		for _, np := range r.netpols {
			sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
			if err != nil {
				t.Errorf("%s: %v", np.Name, err)
				continue
			}
			selectsAll := true
			for _, d := range r.deployments {
				selectsAll = selectsAll && sel.Matches(labels.Set(d.Spec.Template.Labels))
			}
			if !selectsAll || sel.Empty() {
				continue
			}
			if len(np.Spec.Ingress) == 0 && slices.Contains(np.Spec.PolicyTypes, "Ingress") {
				denies = true
			}
			for _, in := range np.Spec.Ingress {
				for _, from := range in.From {
					if from.NamespaceSelector == nil {
						continue
					}
					s, err := metav1.LabelSelectorAsSelector(from.NamespaceSelector)
					if err == nil && s.Matches(labels.Set{"kubernetes.io/metadata.name": "monitoring"}) &&
						slices.ContainsFunc(in.Ports, func(p networkingv1.NetworkPolicyPort) bool { return p.Port != nil && p.Port.String() == "http" }) {
						scrapes = true
					}
				}
			}
		}
		if !denies {
			t.Error("no NetworkPolicy denies ingress to the services' pods by default")
		}
		if !scrapes {
			t.Error("no NetworkPolicy lets the monitoring namespace reach port http")
		}
	})
}

// Every variable set on a container is one the binary reads, and the binary
// accepts every value: it is run with the container's environment, its
// ConfigMap values resolved, and stops only at -h, not at a bad setting.
func TestEnvironmentIsRead(t *testing.T) {
	t.Parallel()
	serveVars, webVars, migrateVars := settings(t, "serve", "all"), settings(t, "serve", "web"), settings(t, "migrate")
	forEachOverlay(t, func(t *testing.T, r *rendered) {
		type container struct {
			name string
			c    corev1.Container
			vars []string
		}
		var cs []container
		for name, d := range r.deployments {
			vars := serveVars
			if name == web {
				vars = webVars
			}
			cs = append(cs, container{name, d.Spec.Template.Spec.Containers[0], vars})
		}
		for name, j := range r.jobs {
			cs = append(cs, container{name, j.Spec.Template.Spec.Containers[0], migrateVars})
		}
		for _, c := range cs {
			if len(c.c.EnvFrom) > 0 {
				t.Errorf("%s: envFrom hides which variables are set; list them", c.name)
			}
			env := []string{"PATH=" + os.Getenv("PATH")}
			for _, e := range c.c.Env {
				if !slices.Contains(c.vars, e.Name) {
					t.Errorf("%s: %s is not read by `bank %s` (it reads %v)", c.name, e.Name, strings.Join(c.c.Args, " "), c.vars)
				}
				v, err := r.value(e)
				if err != nil {
					t.Errorf("%s: %s: %v", c.name, e.Name, err)
					continue
				}
				env = append(env, e.Name+"="+v)
			}
			if out, ok := bankHelp(t, env, c.c.Args...); !ok {
				t.Errorf("%s: `bank %s` refuses its environment:\n%s", c.name, strings.Join(c.c.Args, " "), out)
			}
		}
	})
}

// value resolves an env var: literal, from a rendered ConfigMap, or from one
// of the Secrets made outside the manifests (given a value of the right shape).
func (r *rendered) value(e corev1.EnvVar) (string, error) {
	switch {
	case e.ValueFrom == nil:
		return e.Value, nil
	case e.ValueFrom.ConfigMapKeyRef != nil:
		ref := e.ValueFrom.ConfigMapKeyRef
		cm, ok := r.configMaps[ref.Name]
		if !ok {
			return "", fmt.Errorf("no ConfigMap %s", ref.Name)
		}
		v, ok := cm.Data[ref.Key]
		if !ok {
			return "", fmt.Errorf("ConfigMap %s has no key %s", ref.Name, ref.Key)
		}
		return v, nil
	case e.ValueFrom.SecretKeyRef != nil:
		ref := e.ValueFrom.SecretKeyRef
		known := map[string]string{
			"bank-database/url":           "postgres://bank:pw@fintech-banking-db.example:5432/fintech_banking_db",
			"fintech-banking-db-app/uri":  "postgresql://bank:pw@fintech-banking-db-rw.fintech-banking:5432/fintech_banking_db",
			"bank-notifications/smtp-url": "smtp://relay:pw@smtp.example:587",
		}
		v, ok := known[ref.Name+"/"+ref.Key]
		if !ok {
			return "", fmt.Errorf("Secret %s key %s is not one docs/operations.md says to create", ref.Name, ref.Key)
		}
		return v, nil
	}
	return "", fmt.Errorf("unsupported valueFrom %+v", e.ValueFrom)
}

// What differs between the overlays is what each promises.
func TestOverlays(t *testing.T) {
	t.Parallel()
	t.Run("local", func(t *testing.T) {
		t.Parallel()
		r := render(t, "local")
		c, ok := r.pgClusters["fintech-banking-db"]
		if !ok {
			t.Fatal("no CloudNativePG Cluster fintech-banking-db")
		}
		if c.Spec.Bootstrap.InitDB.Database != "fintech_banking_db" {
			t.Errorf("database %q, want the runbook's fintech_banking_db", c.Spec.Bootstrap.InitDB.Database)
		}
		if got := r.configMaps["bank-config"].Data["queue-url"]; got != "db" {
			t.Errorf("queue-url %q, want db (the table queue)", got)
		}
		for name, d := range r.deployments {
			if name == web {
				continue // no database
			}
			if ref := dbRef(d.Spec.Template.Spec.Containers[0]); ref != "fintech-banking-db-app/uri" {
				t.Errorf("%s reads the database URL from %s, want CloudNativePG's fintech-banking-db-app/uri", name, ref)
			}
		}
	})
	t.Run("aws", func(t *testing.T) {
		t.Parallel()
		r := render(t, "aws")
		if len(r.pgClusters) != 0 {
			t.Error("a PostgreSQL Cluster in the aws overlay: the database is RDS")
		}
		if got := r.configMaps["bank-config"].Data["queue-url"]; !strings.HasPrefix(got, "https://sqs.") {
			t.Errorf("queue-url %q, want an SQS queue URL", got)
		}
		// The ALB reaches the pods from the VPC, not from a namespace.
		fromVPC := false
		for _, np := range r.netpols {
			for _, in := range np.Spec.Ingress {
				for _, from := range in.From {
					fromVPC = fromVPC || (from.IPBlock != nil && from.IPBlock.CIDR != "")
				}
			}
		}
		if !fromVPC {
			t.Error("no NetworkPolicy lets the ALB's addresses in: every request would be dropped")
		}
		if got := r.serviceAccounts["bank"].Annotations["eks.amazonaws.com/role-arn"]; !strings.HasPrefix(got, "arn:aws:iam::") {
			t.Errorf("service account bank: role-arn %q, want an IAM role (IRSA)", got)
		}
		for name, d := range r.deployments {
			if got := d.Spec.Template.Spec.ServiceAccountName; got != "bank" {
				t.Errorf("%s runs as %q, not the IRSA account bank", name, got)
			}
			if ref := dbRef(d.Spec.Template.Spec.Containers[0]); name != web && ref != "bank-database/url" {
				t.Errorf("%s reads the database URL from %s, want bank-database/url", name, ref)
			}
		}
	})
}

func dbRef(c corev1.Container) string {
	for _, e := range c.Env {
		if e.Name == "BANK_DATABASE_URL" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			return e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
		}
	}
	return ""
}

// The Done-when of the manifests: kubectl's own kustomize renders every
// overlay to the same objects as the Go API does.
func TestKubectlKustomize(t *testing.T) {
	t.Parallel()
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not found: the Go API's rendering is checked by the other tests")
	}
	for _, o := range overlays {
		t.Run(o, func(t *testing.T) {
			t.Parallel()
			out, err := exec.Command(kubectl, "kustomize", "overlays/"+o).Output()
			if err != nil {
				t.Fatalf("kubectl kustomize overlays/%s: %v", o, err)
			}
			var got []string
			for _, doc := range strings.Split(string(out), "\n---\n") {
				var m metav1.PartialObjectMetadata
				if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
					t.Fatal(err)
				}
				got = append(got, m.Kind+"/"+m.Name)
			}
			want := slices.Clone(render(t, o).kinds)
			slices.Sort(got)
			slices.Sort(want)
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("kubectl renders other objects (-kubectl +Go API):\n%s", diff)
			}
		})
	}
}

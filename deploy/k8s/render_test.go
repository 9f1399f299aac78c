package k8s

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/fintech-banking/bank/deploy/deploytest"
)

// overlays are the folders under overlays/; every one is rendered and checked.
var overlays = []string{"local", "aws"}

// rendered is an overlay's output, each object decoded into its type.
type rendered struct {
	overlay         string
	deployments     map[string]*appsv1.Deployment
	services        map[string]*corev1.Service
	hpas            map[string]*autoscalingv2.HorizontalPodAutoscaler
	pdbs            map[string]*policyv1.PodDisruptionBudget
	jobs            map[string]*batchv1.Job
	configMaps      map[string]*corev1.ConfigMap
	serviceAccounts map[string]*corev1.ServiceAccount
	ingresses       map[string]*networkingv1.Ingress
	netpols         map[string]*networkingv1.NetworkPolicy
	serviceMonitors map[string]*serviceMonitor
	pgClusters      map[string]*pgCluster
	namespaces      []string
	all             []metav1.Object
	kinds           []string // kind/name of every object, in order
}

// serviceMonitor is the part of the Prometheus operator's ServiceMonitor we
// use; strict decoding refuses any other field.
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Selector          metav1.LabelSelector `json:"selector"`
		NamespaceSelector struct {
			MatchNames []string `json:"matchNames"`
		} `json:"namespaceSelector"`
		Endpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path"`
			Interval      string `json:"interval"`
			ScrapeTimeout string `json:"scrapeTimeout"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// pgCluster is the part of CloudNativePG's Cluster we use.
type pgCluster struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Instances int `json:"instances"`
		Storage   struct {
			Size string `json:"size"`
		} `json:"storage"`
		Bootstrap struct {
			InitDB struct {
				Database string `json:"database"`
				Owner    string `json:"owner"`
			} `json:"initdb"`
		} `json:"bootstrap"`
		PostgreSQL struct {
			Parameters map[string]string `json:"parameters"`
		} `json:"postgresql"`
	} `json:"spec"`
}

var (
	renderOnce  sync.Map // overlay → func() (*rendered, error)
	decoderOnce = sync.OnceValue(newDecoder)
	// kustomizing is held by a kustomize run: kyaml fills its OpenAPI
	// schema, a package variable, on first use without a lock, so two
	// overlays rendered at once race (kubernetes-sigs/kustomize#5805).
	kustomizing sync.Mutex
)

func newDecoder() *kjson.Serializer {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		appsv1.AddToScheme, corev1.AddToScheme, autoscalingv2.AddToScheme, batchv1.AddToScheme,
		networkingv1.AddToScheme, policyv1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
	return kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme, scheme,
		kjson.SerializerOptions{Yaml: true, Strict: true})
}

// render renders an overlay once per test binary and decodes every object
// strictly: an unknown field, a duplicate key or a wrong type fails it.
func render(t *testing.T, overlay string) *rendered {
	t.Helper()
	f, _ := renderOnce.LoadOrStore(overlay, sync.OnceValues(func() (*rendered, error) { return doRender(overlay) }))
	r, err := f.(func() (*rendered, error))()
	if err != nil {
		t.Fatalf("overlay %s: %v", overlay, err)
	}
	return r
}

func doRender(overlay string) (*rendered, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	kustomizing.Lock()
	m, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join("overlays", overlay))
	kustomizing.Unlock()
	if err != nil {
		return nil, err
	}
	r := &rendered{
		overlay:     overlay,
		deployments: map[string]*appsv1.Deployment{}, services: map[string]*corev1.Service{},
		hpas: map[string]*autoscalingv2.HorizontalPodAutoscaler{}, pdbs: map[string]*policyv1.PodDisruptionBudget{},
		jobs: map[string]*batchv1.Job{}, configMaps: map[string]*corev1.ConfigMap{},
		serviceAccounts: map[string]*corev1.ServiceAccount{}, ingresses: map[string]*networkingv1.Ingress{},
		netpols: map[string]*networkingv1.NetworkPolicy{}, serviceMonitors: map[string]*serviceMonitor{},
		pgClusters: map[string]*pgCluster{},
	}
	for _, res := range m.Resources() {
		b, err := res.AsYAML()
		if err != nil {
			return nil, err
		}
		id := res.GetKind() + "/" + res.GetName()
		r.kinds = append(r.kinds, id)
		var obj metav1.Object
		switch res.GetKind() {
		case "ServiceMonitor":
			sm := &serviceMonitor{}
			err, obj = yaml.UnmarshalStrict(b, sm), sm
			r.serviceMonitors[sm.Name] = sm
		case "Cluster":
			c := &pgCluster{}
			err, obj = yaml.UnmarshalStrict(b, c), c
			r.pgClusters[c.Name] = c
		default:
			var o runtime.Object
			o, _, err = decoderOnce().Decode(b, nil, nil)
			if err == nil {
				obj, err = r.add(o)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", id, err)
		}
		r.all = append(r.all, obj)
	}
	return r, nil
}

func (r *rendered) add(o runtime.Object) (metav1.Object, error) {
	switch o := o.(type) {
	case *appsv1.Deployment:
		r.deployments[o.Name] = o
	case *corev1.Service:
		r.services[o.Name] = o
	case *autoscalingv2.HorizontalPodAutoscaler:
		r.hpas[o.Name] = o
	case *policyv1.PodDisruptionBudget:
		r.pdbs[o.Name] = o
	case *batchv1.Job:
		r.jobs[o.Name] = o
	case *corev1.ConfigMap:
		r.configMaps[o.Name] = o
	case *corev1.ServiceAccount:
		r.serviceAccounts[o.Name] = o
	case *networkingv1.Ingress:
		r.ingresses[o.Name] = o
	case *networkingv1.NetworkPolicy:
		r.netpols[o.Name] = o
	case *corev1.Namespace:
		r.namespaces = append(r.namespaces, o.Name)
	default:
		return nil, fmt.Errorf("no check knows the type %T: add it to the tests", o)
	}
	return o.(metav1.Object), nil
}

var envVar = regexp.MustCompile(`\$(BANK_[A-Z_]+)`)

func bank(t *testing.T) string { return deploytest.Bank(t) }

func TestMain(m *testing.M) { deploytest.Main(m) }

// bankHelp runs `bank <args> -h` with env and returns what it printed and
// whether it stopped at the help (rather than at a bad setting).
func bankHelp(t *testing.T, env []string, args ...string) (string, bool) {
	t.Helper()
	cmd := exec.Command(bank(t), append(args, "-h")...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// -h reads the settings first: a bad one fails, good ones print the help and exit 0.
	err := cmd.Run()
	return out.String(), err == nil && strings.Contains(out.String(), "Usage:")
}

// settings lists the BANK_* variables a command reads, from its own help.
func settings(t *testing.T, args ...string) []string {
	t.Helper()
	out, ok := bankHelp(t, []string{"PATH=" + os.Getenv("PATH")}, args...)
	if !ok {
		t.Fatalf("bank %v -h: %s", args, out)
	}
	var names []string
	for _, m := range envVar.FindAllStringSubmatch(out, -1) {
		names = append(names, m[1])
	}
	slices.Sort(names)
	return slices.Compact(names)
}

package k8s

import (
	"net/netip"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/fintech-banking/bank/internal/notification"
)

// endpoint is where a connection goes: a pod (its namespace and labels, and
// the container ports it names) or, with no namespace, an address outside
// the cluster.
type endpoint struct {
	namespace string
	labels    labels.Set
	ports     map[string]int32
	ip        netip.Addr
}

func pod(namespace string, l labels.Set) endpoint {
	return endpoint{namespace: namespace, labels: l, ip: netip.MustParseAddr("10.244.1.7")}
}

func addr(s string) endpoint { return endpoint{ip: netip.MustParseAddr(s)} }

// egressAllowed evaluates the rendered NetworkPolicies as Kubernetes does:
// a connection from a pod of the namespace labelled from is allowed when no
// policy selects the pod for Egress, or when a rule of one that does lets
// it through (a peer matches, and a port does).
func (r *rendered) egressAllowed(from labels.Set, to endpoint, proto corev1.Protocol, port int32) bool {
	selected := false
	for _, np := range r.netpols {
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil || !sel.Matches(from) || !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
			continue
		}
		selected = true
		for _, rule := range np.Spec.Egress {
			if (len(rule.To) == 0 || slices.ContainsFunc(rule.To, func(p networkingv1.NetworkPolicyPeer) bool { return peerMatches(p, to) })) &&
				(len(rule.Ports) == 0 || slices.ContainsFunc(rule.Ports, func(p networkingv1.NetworkPolicyPort) bool { return portMatches(p, to, proto, port) })) {
				return true
			}
		}
	}
	return !selected
}

func peerMatches(p networkingv1.NetworkPolicyPeer, to endpoint) bool {
	if p.IPBlock != nil {
		cidr, err := netip.ParsePrefix(p.IPBlock.CIDR)
		if err != nil || !cidr.Contains(to.ip) {
			return false
		}
		for _, e := range p.IPBlock.Except {
			if netip.MustParsePrefix(e).Contains(to.ip) {
				return false
			}
		}
		return true
	}
	if to.namespace == "" {
		return false // selectors select pods only
	}
	if p.NamespaceSelector == nil && to.namespace != namespace {
		return false // a podSelector alone selects in the policy's namespace
	}
	if p.NamespaceSelector != nil {
		sel, err := metav1.LabelSelectorAsSelector(p.NamespaceSelector)
		if err != nil || !sel.Matches(labels.Set{"kubernetes.io/metadata.name": to.namespace}) {
			return false
		}
	}
	if p.PodSelector != nil {
		sel, err := metav1.LabelSelectorAsSelector(p.PodSelector)
		if err != nil || !sel.Matches(to.labels) {
			return false
		}
	}
	return true
}

func portMatches(p networkingv1.NetworkPolicyPort, to endpoint, proto corev1.Protocol, port int32) bool {
	if want := ptrValue(p.Protocol); want != proto && (want != "" || proto != corev1.ProtocolTCP) {
		return false
	}
	if p.Port == nil {
		return true
	}
	first := p.Port.IntVal
	if p.Port.StrVal != "" {
		n, ok := to.ports[p.Port.StrVal]
		return ok && n == port
	}
	return port == first || (p.EndPort != nil && first <= port && port <= *p.EndPort)
}

// bankPods are the labels of every pod of the bank: each Deployment's and
// the migrate Job's.
func (r *rendered) bankPods() map[string]labels.Set {
	pods := map[string]labels.Set{}
	for name, d := range r.deployments {
		pods[name] = d.Spec.Template.Labels
	}
	for name, j := range r.jobs {
		pods[name] = j.Spec.Template.Labels
	}
	return pods
}

// connection is one connection a rule is about.
type connection struct {
	what  string
	to    endpoint
	proto corev1.Protocol
	port  int32
}

func (r *rendered) checkEgress(t *testing.T, pods []string, conns []connection, want bool) {
	t.Helper()
	all := r.bankPods()
	for _, name := range pods {
		for _, c := range conns {
			if got := r.egressAllowed(all[name], c.to, c.proto, c.port); got != want {
				t.Errorf("%s → %s (%s %s): allowed %v, want %v", name, c.what, c.proto, netip.AddrPortFrom(c.to.ip, uint16(c.port)), got, want)
			}
		}
	}
}

// Each rule of the egress NetworkPolicies, evaluated on the rendered
// policies: what every pod, or only notification-service, may reach, and
// what it may not.
func TestEgress(t *testing.T) {
	t.Parallel()
	const tcp, udp = corev1.ProtocolTCP, corev1.ProtocolUDP
	forEachOverlay(t, func(t *testing.T, r *rendered) {
		var everyPod, others []string
		for name := range r.bankPods() {
			everyPod = append(everyPod, name)
			if name != "notification-service" {
				others = append(others, name)
			}
		}
		notifier := []string{"notification-service"}
		dns := pod("kube-system", labels.Set{"k8s-app": "kube-dns"})
		sqs := addr("52.94.133.131") // sqs.us-east-1.amazonaws.com
		t.Run("DNS through kube-dns only", func(t *testing.T) {
			r.checkEgress(t, everyPod, []connection{{"kube-dns", dns, udp, 53}, {"kube-dns", dns, tcp, 53}}, true)
			r.checkEgress(t, everyPod, []connection{{"a public resolver", addr("8.8.8.8"), udp, 53},
				{"kube-dns, another port", dns, tcp, 8080}}, false)
		})
		t.Run("the database", func(t *testing.T) {
			db := map[string]endpoint{
				"local": pod(namespace, labels.Set{"cnpg.io/cluster": "fintech-banking-db", "cnpg.io/instanceRole": "primary"}),
				"aws":   addr("10.0.12.34"), // the RDS instance, in the VPC (10.0.0.0/16)
			}[r.overlay]
			r.checkEgress(t, everyPod, []connection{{"the database", db, tcp, 5432}}, true)
			// notification-service reaches public addresses on every port.
			r.checkEgress(t, others, []connection{{"PostgreSQL on a public address", addr("203.0.113.9"), tcp, 5432}}, false)
			r.checkEgress(t, everyPod, []connection{{"PostgreSQL in another namespace", pod("other", labels.Set{"cnpg.io/cluster": "fintech-banking-db"}), tcp, 5432},
				{"the database, another port", db, tcp, 22}}, false)
		})
		t.Run("each other on 8080", func(t *testing.T) {
			for name := range services {
				peer := r.deployments[name].Spec.Template.Labels
				r.checkEgress(t, everyPod, []connection{{name, pod(namespace, peer), tcp, 8080}}, true)
				r.checkEgress(t, everyPod, []connection{{name + ", another port", pod(namespace, peer), tcp, 9090},
					{"a pod of another namespace", pod("monitoring", peer), tcp, 8080}}, false)
			}
		})
		t.Run("HTTPS on public addresses", func(t *testing.T) {
			r.checkEgress(t, everyPod, []connection{{"SQS", sqs, tcp, 443}, {"STS over IPv6", addr("2600:1f18::1"), tcp, 443}}, true)
			r.checkEgress(t, others, []connection{{"HTTP", sqs, tcp, 80}, {"SMTP", sqs, tcp, 587}}, false)
		})
		t.Run("notification-service: SMTP, SMS and webhooks on public addresses", func(t *testing.T) {
			r.checkEgress(t, notifier, []connection{
				{"the SMTP relay of docs/operations.md", addr("52.0.14.116"), tcp, 587},
				{"an SMTP relay", addr("198.51.100.25"), tcp, 25},
				{"an SMTP relay (TLS)", addr("198.51.100.25"), tcp, 465},
				{"an SMS provider", addr("198.51.100.7"), tcp, 8443},
				{"an http:// webhook", addr("198.51.100.80"), tcp, 80},
				{"a webhook on another port", addr("2001:4860::8"), tcp, 9000},
			}, true)
			r.checkEgress(t, notifier, []connection{{"UDP", addr("198.51.100.7"), udp, 9000}}, false)
		})
		t.Run("never an address the webhook guard refuses", func(t *testing.T) {
			for _, ip := range guardSamples(r) {
				for _, port := range []int32{25, 80, 443, 587, 8080, 8443} {
					for _, name := range everyPod {
						if r.egressAllowed(r.bankPods()[name], addr(ip.String()), tcp, port) && !notification.PublicAddr(ip) {
							t.Errorf("%s may reach %s, which is not public", name, netip.AddrPortFrom(ip, uint16(port)))
						}
					}
				}
			}
		})
	})
}

// guardSamples are addresses of every kind the webhook guard refuses, and
// the edges of every address block of the policies: each block's first and
// last address and the addresses just outside it.
func guardSamples(r *rendered) []netip.Addr {
	var s []netip.Addr
	for _, a := range []string{"0.0.0.0", "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1",
		"169.254.169.254", "100.64.0.1", "224.0.0.251", "255.255.255.255",
		"::", "::1", "fc00::1", "fd12:3456::1", "fe80::1", "ff02::1", "::ffff:10.0.0.1"} {
		s = append(s, netip.MustParseAddr(a))
	}
	for _, np := range r.netpols {
		for _, rule := range np.Spec.Egress {
			for _, to := range rule.To {
				if to.IPBlock == nil {
					continue
				}
				for _, c := range append([]string{to.IPBlock.CIDR}, to.IPBlock.Except...) {
					p := netip.MustParsePrefix(c)
					s = append(s, p.Masked().Addr(), p.Masked().Addr().Prev(), lastAddr(p), lastAddr(p).Next())
				}
			}
		}
	}
	return slices.DeleteFunc(s, func(a netip.Addr) bool { return !a.IsValid() })
}

// lastAddr is the last address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

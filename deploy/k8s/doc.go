// Package k8s holds no code: its folder holds the Kubernetes manifests (a
// kustomize base and the overlays local and aws), and its tests render every
// overlay with kustomize's Go API and check what they render.
package k8s

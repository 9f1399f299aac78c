// Package deploy holds no code: its folders hold the Kubernetes manifests
// (k8s) and the monitoring configuration (monitoring), and its test checks the
// image's Dockerfile at the root of the module.
package deploy

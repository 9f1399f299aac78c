// Package deploy holds no code: its folders hold the Kubernetes manifests
// (k8s), the monitoring configuration (monitoring) and the AWS resources as
// a CDK app (aws). Its tests check the image's Dockerfile at the root of the
// module and run aws/check.sh.
package deploy

// deploy/aws is a Node project (the AWS CDK app), not Go code. This file
// makes it a module of its own, so that `go build/vet/test ./...` of the
// bank's module never walks node_modules, where the aws-cdk package ships Go
// templates that do not compile.
module github.com/fintech-banking/bank/deploy/aws

go 1.24

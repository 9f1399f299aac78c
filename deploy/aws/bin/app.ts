import { App } from 'aws-cdk-lib';
import { region } from '../lib/names';
import { BankingStack } from '../lib/stack';

// Context (cdk.json, or -c name=value) gives the public zone; the account is
// the one deploy runs with.
const app = new App();
const context = (name: string): string => {
  const v = app.node.tryGetContext(name);
  if (typeof v !== 'string' || v === '') {
    throw new Error(`context ${name} is not set: see cdk.json`);
  }
  return v;
};
new BankingStack(app, 'FintechBanking', {
  env: { region },
  zoneName: context('domainName'),
  hostedZoneId: context('hostedZoneId'),
  kubernetesVersion: context('kubernetesVersion'),
  description: 'fintech-banking: what the operations runbook assumes in AWS',
});
app.synth();

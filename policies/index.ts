import type { AnyPolicy } from '../src/review/policy.js';
import durationSyntax from './duration-syntax.js';
import streamIdleWithinRequest from './stream-idle-within-request.js';
import streamIdleZero from './stream-idle-zero.js';
import backendRequestWithinImpliedRequest from './backend-request-within-implied-request.js';
import streamIdleNeedsFalloverTarget from './stream-idle-needs-fallover-target.js';
import httprouteLimits from './httproute-limits.js';
import llmRequestCostCel from './llm-request-cost-cel.js';
import falloverRetryMissing from './fallover-retry-missing.js';
import falloverRetryTriggers from './fallover-retry-triggers.js';
import falloverPriorityUnreachable from './fallover-priority-unreachable.js';
import falloverBudget from './fallover-budget.js';
import falloverSameProvider from './fallover-same-provider.js';
import falloverPrioritiesIgnored from './fallover-priorities-ignored.js';
import unresolvedBackend from './unresolved-backend.js';
import retryStatusCodesIgnored from './retry-status-codes-ignored.js';
import perRetryTimeout from './per-retry-timeout.js';
import btpTargetNotFound from './btp-target-not-found.js';
import btpSectionNotFound from './btp-section-not-found.js';
import btpOverridesRetry from './btp-overrides-retry.js';
import btpRetryRefused from './btp-retry-refused.js';
import defaultRequestTimeout from './default-request-timeout.js';
import defaultModelsCreatedAt from './default-models-created-at.js';
import defaultStreamIdleTimeout from './default-stream-idle-timeout.js';
import injectExtprocSidecar from './inject-extproc-sidecar.js';
import routeRuleIndex from './route-rule-index.js';
import orphanedRuleReferences from './orphaned-rule-references.js';
import crdSchema from './crd-schema.js';
import crdCel from './crd-cel.js';
import sidecarDrift from './sidecar-drift.js';

/** Every policy the webhook knows. Order is the order findings are reported in. */
export const ALL_POLICIES: readonly AnyPolicy[] = [
  durationSyntax,
  streamIdleWithinRequest,
  streamIdleZero,
  backendRequestWithinImpliedRequest,
  streamIdleNeedsFalloverTarget,
  httprouteLimits,
  llmRequestCostCel,
  falloverRetryMissing,
  falloverRetryTriggers,
  falloverPriorityUnreachable,
  falloverBudget,
  falloverSameProvider,
  falloverPrioritiesIgnored,
  unresolvedBackend,
  retryStatusCodesIgnored,
  perRetryTimeout,
  btpTargetNotFound,
  btpSectionNotFound,
  btpOverridesRetry,
  btpRetryRefused,
  defaultRequestTimeout,
  defaultModelsCreatedAt,
  defaultStreamIdleTimeout,
  injectExtprocSidecar,
  routeRuleIndex,
  orphanedRuleReferences,
  crdSchema,
  crdCel,
  sidecarDrift,
];

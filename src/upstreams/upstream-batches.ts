import type { CallContext } from '../call-context.js';
import type { Xuid } from '../xbl-vocabulary.js';
import type {
  PartFailure,
  SendUpstream,
  UpstreamEndpoint,
  UpstreamOutcome,
} from './upstream-pipeline.js';

/**
 * How one client turns a batch of XUIDs into a call and an answer into entries; described once
 * per client, with what varies per request (`args`, e.g. the asked settings) passed to `toBody`.
 */
export interface BatchCall<T, R, A = undefined> {
  readonly endpoint: UpstreamEndpoint<T>;
  /** Most XUIDs in one call (`UPSTREAM_BATCH_SIZE`; UPSTREAMS.md: the real limits are unknown). */
  readonly batchSize: number;
  /** The JSON body for one batch of XUIDs. */
  toBody(batch: readonly Xuid[], args: A): unknown;
  /** The entries of a validated answer. */
  pick(answer: T): readonly R[];
}

/**
 * Sends `xuids` in batches of at most `batchSize`, concurrently, each through the pipeline, and
 * joins the entries. One failed batch fails the part; a credential rejection wins over other
 * failures so that it can fail the request (API.md §3 error table).
 */
export async function sendInBatches<T, R, A>(
  send: SendUpstream,
  call: BatchCall<T, R, A>,
  request: { readonly xuids: readonly Xuid[]; readonly args: A; readonly context: CallContext },
): Promise<UpstreamOutcome<readonly R[]>> {
  const { xuids, args, context } = request;
  const sendBatch = async (batch: readonly Xuid[]): Promise<UpstreamOutcome<readonly R[]>> => {
    const outcome = await send({
      endpoint: call.endpoint,
      body: call.toBody(batch, args),
      xuidCount: batch.length,
      context,
    });
    return outcome.ok ? { ok: true, value: call.pick(outcome.value) } : outcome;
  };
  if (xuids.length <= call.batchSize) return sendBatch(xuids);

  const batches: (readonly Xuid[])[] = [];
  for (let start = 0; start < xuids.length; start += call.batchSize) {
    batches.push(xuids.slice(start, start + call.batchSize));
  }
  const outcomes = await Promise.all(batches.map(sendBatch));
  let failure: PartFailure | undefined;
  for (const outcome of outcomes) {
    if (outcome.ok) continue;
    if (!failure || isCredentialRejection(outcome.failure)) failure = outcome.failure;
    if (isCredentialRejection(failure)) break;
  }
  if (failure) return { ok: false, failure };
  return { ok: true, value: outcomes.flatMap((outcome) => (outcome.ok ? outcome.value : [])) };
}

/** A 401/403: the upstream rejected the caller's token. */
export function isCredentialRejection(failure: PartFailure | undefined): boolean {
  return failure?.status === 401 || failure?.status === 403;
}

// `inboundMedia`: one end-user media message's file fetched into the platform's storage (id
// `inbound-media:{tenantId}:{messageId}`, so a repeated start is a no-op). Started by the store
// step of the conversation workflow once the message is stored, so that the webhook's ack and the
// conversation's reply never wait for a download; the activity (activities/media/inbound.ts)
// records the outcome on the message and gives up on its own after MEDIA_ATTEMPTS.
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import type { FetchInboundMediaInput } from '../activities/media/inbound.ts';

const media = proxyActivities<Activities>({
  // Covers the download (MEDIA_DOWNLOAD_TIMEOUT_MS) and a transcription.
  startToCloseTimeout: '3 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

export function inboundMediaWorkflowId(tenantId: string, messageId: string): string {
  return `inbound-media:${tenantId}:${messageId}`;
}

export async function inboundMedia(input: FetchInboundMediaInput): Promise<void> {
  await media.fetchInboundMedia.executeWithOptions({ summary: 'fetch the media of an inbound message' }, [input]);
}

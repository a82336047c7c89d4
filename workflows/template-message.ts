// `templateMessage`: one approved WhatsApp template sent to a customer, by an agent in the inbox,
// by the tenant's API (a proactive message), whether or not the 24-hour service window is open.
// Its id names the message (`templateMessageWorkflowId`), so a repeated request joins the first.
// One activity does it all (activities/templates.ts); it stores the message in the customer's
// conversation, which the conversation workflow reads when the customer answers.
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import type { TemplateMessageInput, TemplateSendResult } from '../activities/templates.ts';

/**
 * Heartbeats once Meta accepted, so a dead worker's attempt is retried within 15 s without
 * sending again. No attempt limit: the activity gives up on a channel that keeps failing itself.
 */
const { deliverTemplateMessage } = proxyActivities<Activities>({
  startToCloseTimeout: '60 seconds',
  heartbeatTimeout: '15 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

export async function templateMessage(input: TemplateMessageInput): Promise<TemplateSendResult> {
  return deliverTemplateMessage(input);
}

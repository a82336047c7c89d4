// The one way the API hands end-user messages to a conversation: signalWithStart of the
// conversation workflow of (tenant, channel id, external user), started with the search attributes
// the workflow keeps current. The Meta webhooks, the web chat socket and the tests' conversation
// rig all come through here.
import { TypedSearchAttributes, type SignalDefinition } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import type { Config } from '../lib/config.ts';
import { taskQueueName } from '../lib/temporal.ts';
import { businessEchoSignal, conversation, inboundSignal } from '../workflows/conversation.ts';
import { conversationWorkflowId } from '../workflows/ids.ts';
import { Channel, ConversationStatus, HandoffState, TenantId } from '../workflows/search-attributes.ts';
import type { BusinessEcho, ChannelKind, InboundMessage } from '../workflows/types.ts';

/** How long a caller waits for Temporal to take its signal before giving up. */
export const SIGNAL_DEADLINE_MS = 5_000;

export interface InboundDelivery {
  tenantId: string;
  channel: ChannelKind;
  channelId: string;
  externalUserId: string;
  /** In the order the user sent them; the workflow dedupes by externalMessageId. */
  messages: InboundMessage[];
}

export interface SignalDeps {
  temporal: Client;
  config: Pick<Config, 'TEMPORAL_TASK_QUEUE_PREFIX'>;
  /**
   * False on a Temporal server where the conversation search attributes cannot be registered
   * (the time-skipping test server): runs start without them, and the workflow leaves them be.
   */
  searchAttributes?: boolean;
}

export async function signalInbound(deps: SignalDeps, delivery: InboundDelivery): Promise<void> {
  await signalConversation(deps, delivery, inboundSignal, delivery.messages);
}

/** The business's own messages to one user (echoes), to the same workflow (started if need be). */
export async function signalBusinessEchoes(deps: SignalDeps, delivery: Omit<InboundDelivery, 'messages'> & { echoes: BusinessEcho[] }): Promise<void> {
  await signalConversation(deps, delivery, businessEchoSignal, delivery.echoes);
}

async function signalConversation<T>(deps: SignalDeps, delivery: Omit<InboundDelivery, 'messages'>, signal: SignalDefinition<[T]>, payload: T): Promise<void> {
  const { temporal, config } = deps;
  const { tenantId, channel, channelId, externalUserId } = delivery;
  await temporal.connection.withDeadline(Date.now() + SIGNAL_DEADLINE_MS, () =>
    temporal.workflow.signalWithStart(conversation, {
      workflowId: conversationWorkflowId(tenantId, channelId, externalUserId),
      taskQueue: taskQueueName(config, 'conversations'),
      args: [{ tenantId, channel, channelId, externalUserId }],
      signal,
      signalArgs: [payload],
      typedSearchAttributes:
        deps.searchAttributes === false
          ? undefined
          : new TypedSearchAttributes([
              { key: TenantId, value: tenantId },
              { key: Channel, value: channel },
              { key: ConversationStatus, value: 'active' },
              { key: HandoffState, value: 'none' },
            ]),
    }),
  );
}

// The conversation workflow's signals, updates and query. They sit in a module of their own
// because two workflow functions answer them: the current one (conversation.ts) and the frozen
// first version that older histories replay (legacy/conversation-v1.ts). The API imports them
// through conversation.ts, never their names as strings.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { AgentMessageInput, AgentMessageResult, BusinessEcho, ConversationSnapshot, InboundMessage, TakeOverInput } from './types.ts';

/** New end-user messages of one webhook delivery, in provider order. */
export const inboundSignal = defineSignal<[InboundMessage[]]>('inbound');
/** Messages the business sent to the user from its own app (stored as its agent's; the assistant pauses). */
export const businessEchoSignal = defineSignal<[BusinessEcho[]]>('businessEcho');
/** Ask for a human (API, or the assistant's request_human tool). */
export const requestHandoffSignal = defineSignal<[{ reason: string }]>('requestHandoff');
/** End the conversation now (GDPR erasure ends the workflow by termination instead). */
export const closeSignal = defineSignal<[{ reason: string }]>('close');

export const takeOverUpdate = defineUpdate<ConversationSnapshot, [TakeOverInput]>('takeOver');
export const agentMessageUpdate = defineUpdate<AgentMessageResult, [AgentMessageInput]>('agentMessage');
export const releaseUpdate = defineUpdate<ConversationSnapshot, [{ agentId: string }]>('release');

export const stateQuery = defineQuery<ConversationSnapshot>('state');

export const HANDOFF_NOTICE = 'Connecting you with a person. They will reply here shortly.';

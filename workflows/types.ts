// Types shared by the conversation workflow, its activities and the API that signals it.
import type { ConversationSettings } from './conversation-state.ts';
import type { ChannelKind } from './ids.ts';

export type { ChannelKind } from './ids.ts';

export type ConversationStatus = 'active' | 'handoff_requested' | 'assigned_human' | 'closed';
export type HandoffState = 'none' | 'requested' | 'assigned';

export type InboundKind =
  | 'text' | 'image' | 'audio' | 'video' | 'document' | 'sticker' | 'location' | 'contacts'
  | 'interactive' | 'reaction' | 'order' | 'system' | 'unsupported';

/** One message from an end user, as the webhook normalised it. */
export interface InboundMessage {
  /** The provider's message id (wamid.…, Messenger mid): the dedupe key. */
  externalMessageId: string;
  /**
   * The provider's timestamp (ms), or the receive time when the provider's lies outside the
   * window the API accepts (api/webhooks/timestamps.ts); stored as sent_at, orders a burst.
   */
  sentAt: number;
  kind: InboundKind;
  /** What the assistant reads: the text, a caption, a button/list title, a postback title… */
  text: string | null;
  /** Provider metadata kept with the message (media id and mime type, location, reaction…). */
  content: Record<string, unknown>;
}

/**
 * A message the business sent from its own app (WhatsApp Business app in coexistence, the
 * Page inbox), not through this platform: stored as an agent's message, and it pauses the
 * assistant (api/webhooks/normalize.ts tells them from the platform's own echoes).
 */
export type BusinessEcho = InboundMessage;

/**
 * Who holds a conversation the business answered from its own app: the assistant stays silent
 * as for any agent, until the agent inactivity timeout or a person in the inbox takes it over.
 */
export const BUSINESS_APP_AGENT = 'business_app';

/** One option of a choice offered to the customer; `id` comes back with the customer's pick. */
export interface Choice {
  id: string;
  title: string;
  description?: string;
}

/**
 * Options offered with a message. Each channel renders them as it can (activities/channels/
 * interactive.ts): WhatsApp reply buttons or a list, Messenger a button template or quick
 * replies, otherwise numbered lines of text.
 */
export interface ChoiceSet {
  items: Choice[];
  /** The label of the button that opens a WhatsApp list (default "Options"). */
  button?: string;
}

/** Starts (or joins) the conversation workflow of one external user. */
export interface ConversationInput {
  tenantId: string;
  channel: ChannelKind;
  channelId: string;
  externalUserId: string;
  /** State carried over by continue-as-new; absent on a fresh start. */
  carried?: CarriedState;
}

export interface Turn {
  role: 'user' | 'assistant' | 'agent';
  text: string;
  at: number;
}

/** A function call the model asked for; `arguments` is the model's JSON text, unparsed. */
export interface ToolCall {
  id: string;
  name: string;
  arguments: string;
}

/** What a turn's tool loop adds after the conversation: the model's calls and their results. */
export type ToolStep =
  | { role: 'assistant'; text: string; toolCalls: ToolCall[] }
  | { role: 'tool'; callId: string; name: string; content: string; isError: boolean };

export interface CarriedState {
  conversationId: string;
  status: ConversationStatus;
  assignee: string | null;
  turns: Turn[];
  recentMessageIds: string[];
  pending: InboundMessage[];
  lastInboundAt: number | null;
  lastAgentActivityAt: number | null;
  inboundTimes: number[];
  repliesSent: number;
  /** Rolling summary of the turns older than the verbatim window (absent before it overflowed). */
  summary?: string;
  /** Turns that left the verbatim window and are not in the summary yet. */
  unsummarized?: Turn[];
  /** Stored messages the assistant has not answered yet (the quiet window was still open). */
  unanswered?: InboundMessage[];
  /** A handoff or close asked for and not acted on yet. */
  handoffRequest?: string;
  closeRequest?: string;
  /** Last end-user or agent activity (ms): the idle-close deadline runs from it. */
  lastActivityAt?: number;
  /** The tenant's settings as the conversation last read them (timers need them before a message comes). */
  settings?: ConversationSettings;
}

export interface ConversationSnapshot {
  conversationId: string | null;
  status: ConversationStatus;
  handoff: HandoffState;
  assignee: string | null;
  pending: number;
  lastInboundAt: number | null;
  repliesSent: number;
}

export interface TakeOverInput {
  agentId: string;
}

export interface AgentMessageInput {
  agentId: string;
  text: string;
  /**
   * The id of the outbound message row, chosen by the API (derived from the update id, so a
   * retried request names the same message); absent from older callers, then the workflow picks one.
   */
  messageId?: string;
  /** Options sent with the text (see ChoiceSet). */
  choices?: ChoiceSet;
  /** A stored file sent after the text (an image or a document); the text may then be empty. */
  attachment?: OutboundAttachment;
}

/**
 * A file an agent sends: stored already (an end user's media, a tenant document), named by its
 * storage key; the send reads the bytes and uploads them to the channel.
 */
export interface OutboundAttachment {
  /** image: shown as a picture; document: offered as a file. */
  kind: 'image' | 'document';
  key: string;
  mimeType: string;
  filename: string;
  sizeBytes: number;
}

export interface AgentMessageResult {
  status: 'sent' | 'failed';
  messageId: string;
  reason?: string;
}

/** Why an assistant message did not go out: a person was asked for or took over before the channel had it. */
export const SUPERSEDED_BY_AGENT = 'superseded_by_agent';

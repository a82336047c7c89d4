// Custom search attributes: ops filter conversations by them in the Temporal Web UI
// (e.g. `TenantId = "…" AND HandoffState = "requested"`). Registered by temporal-config/.
import { defineSearchAttributeKey } from '@temporalio/common';

export const TenantId = defineSearchAttributeKey('TenantId', 'KEYWORD');
export const Channel = defineSearchAttributeKey('Channel', 'KEYWORD');
export const ConversationStatus = defineSearchAttributeKey('ConversationStatus', 'KEYWORD');
export const HandoffState = defineSearchAttributeKey('HandoffState', 'KEYWORD');

/** The conversation's row id (`conversations.id`), once its first message is stored. */
export const ConversationId = defineSearchAttributeKey('ConversationId', 'KEYWORD');
/** The tenant's channel (`channels.id`): every conversation of one WhatsApp number or page. */
export const ChannelId = defineSearchAttributeKey('ChannelId', 'KEYWORD');
/** The agent holding the conversation; absent while the assistant answers. */
export const Assignee = defineSearchAttributeKey('Assignee', 'KEYWORD');

export const SEARCH_ATTRIBUTES = [TenantId, Channel, ConversationStatus, HandoffState, ConversationId, ChannelId, Assignee];

// Custom search attributes: ops filter conversations by them in the Temporal Web UI
// (e.g. `TenantId = "…" AND HandoffState = "requested"`). Registered by temporal-config/.
import { defineSearchAttributeKey } from '@temporalio/common';

export const TenantId = defineSearchAttributeKey('TenantId', 'KEYWORD');
export const Channel = defineSearchAttributeKey('Channel', 'KEYWORD');
export const ConversationStatus = defineSearchAttributeKey('ConversationStatus', 'KEYWORD');
export const HandoffState = defineSearchAttributeKey('HandoffState', 'KEYWORD');

export const SEARCH_ATTRIBUTES = [TenantId, Channel, ConversationStatus, HandoffState];

import type { Channel, ChannelState } from './glossary.js';

/** What the API answers: the views of notifications, dead letters and groups. */

/** A channel's status as the API shows it (times ISO-8601). */
export interface ChannelStatusView {
  state: ChannelState;
  attempts: number;
  reason?: string;
  error?: string;
  providerId?: string;
  updatedAt: string;
}

/** `GET /v1/notifications/:id`. */
export interface NotificationStatusView {
  id: string;
  userId: string;
  type: string;
  streamId: string;
  createdAt: string;
  channels: Record<Channel, ChannelStatusView>;
}

/** A dead letter as the API shows it: why and when a channel gave up, and the entry as it was. */
export interface DeadLetterView {
  dlqId: string;
  channel: string;
  /** The original entry's id in the stream. */
  streamId: string;
  /** The notification id ('' for a malformed entry without one). */
  id: string;
  reason: string;
  attempts: number;
  error: string;
  createdAt: string;
  /** The original entry's fields. */
  entry: Record<string, string>;
}

/** What operators and autoscalers need to know about one channel's consumer group. */
export interface GroupStatus {
  channel: Channel;
  group: string;
  /** False until a worker of the channel has started once. */
  exists: boolean;
  consumers: { name: string; pending: number; idleMs: number }[];
  /** Entries handed to a consumer and not yet acknowledged. */
  pending: number;
  /** Entries not yet handed to the group. */
  lag: number;
  /** Entries the group has read so far (Redis's count, when it knows it): its rate is throughput. */
  entriesRead: number | null;
  lastDeliveredId: string | null;
  /** Age of the oldest pending entry, in ms; 0 with nothing pending. */
  oldestPendingAgeMs: number;
  deadLetters: number;
}

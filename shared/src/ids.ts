import { monotonicFactory } from 'ulid';

const next = monotonicFactory();

/** A new notification id: a ULID, time-sortable and unique (26 characters). */
export function newNotificationId(): string {
  return next();
}

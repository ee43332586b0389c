import { CHANNELS, type Channel } from '@herald/shared';
import type { TestStack } from '../helpers/stack.js';

/**
 * The reference an SMS carries in its body: Twilio is given no notification id, so the chaos
 * scenarios write `ref:<id>` into the body and read it back from what the stand-in received.
 */
export const smsRef = (id: string): string => `ref:${id}`;

/**
 * Counts what really arrived at the stand-ins, by notification id and channel: the mails' `X-Herald-Notification-Id`
 * header, the SMS bodies' `ref:<id>`, the decrypted pushes' `id`. Redis says what the workers
 * believe; this says what the person got.
 */
export class DeliveryTally {
  /** Arrivals from before a stand-in's `reset()`, which forgets them. */
  readonly #kept: Record<Channel, string[]> = { email: [], sms: [], push: [] };

  constructor(private readonly stack: Pick<TestStack, 'smtp' | 'twilio' | 'push'>) {}

  /** The notification id of every arrival on `channel`, one per arrival ('' when it carried none). */
  ids(channel: Channel): string[] {
    return [...this.#kept[channel], ...this.current(channel)];
  }

  /** Arrivals per notification id on `channel`. */
  counts(channel: Channel): Map<string, number> {
    const counts = new Map<string, number>();
    for (const id of this.ids(channel)) counts.set(id, (counts.get(id) ?? 0) + 1);
    return counts;
  }

  /** Whether every id in `expected` arrived at least once on each channel named. */
  complete(expected: Partial<Record<Channel, Iterable<string>>>): boolean {
    return CHANNELS.every((channel) => {
      const counts = this.counts(channel);
      for (const id of expected[channel] ?? []) if (!counts.has(id)) return false;
      return true;
    });
  }

  /**
   * End every scripted failure and delay of `channel`'s stand-in. Its `reset()` also forgets
   * what arrived, so the arrivals are kept here first (in the same tick: none can slip in between).
   */
  endFailures(channel: Channel): void {
    this.#kept[channel] = this.ids(channel);
    ({ email: this.stack.smtp, sms: this.stack.twilio, push: this.stack.push })[channel].reset();
  }

  /**
   * Delivered, lost and duplicated against `expected`: per channel, the accepted ids whose user
   * had a contact there.
   */
  summarise(expected: Partial<Record<Channel, Iterable<string>>>) {
    const delivered = { email: 0, sms: 0, push: 0 } as Record<Channel, number>;
    const lostIds: Record<Channel, string[]> = { email: [], sms: [], push: [] };
    const duplicatesByChannel = { email: 0, sms: 0, push: 0 } as Record<Channel, number>;
    for (const channel of CHANNELS) {
      const counts = this.counts(channel);
      for (const id of expected[channel] ?? []) {
        if (counts.has(id)) delivered[channel] += 1;
        else lostIds[channel].push(id);
      }
      for (const n of counts.values()) {
        duplicatesByChannel[channel] += n - 1;
      }
    }
    const sum = (r: Record<Channel, number>) => CHANNELS.reduce((total, c) => total + r[c], 0);
    return {
      delivered,
      lost: CHANNELS.reduce((total, c) => total + lostIds[c].length, 0),
      lostIds,
      duplicated: sum(duplicatesByChannel),
      duplicatesByChannel,
    };
  }

  private current(channel: Channel): string[] {
    switch (channel) {
      case 'email':
        return this.stack.smtp.messages.map((m) => m.headers['x-herald-notification-id'] ?? '');
      case 'sms':
        return this.stack.twilio.messages.map((m) => /ref:(\S+)/.exec(m.body)?.[1] ?? '');
      case 'push':
        return this.stack.push.received.map((p) => (p.json as { id?: string } | undefined)?.id ?? '');
    }
  }
}

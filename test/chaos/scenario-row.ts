import { CHANNELS, type Channel } from '@herald/shared';

/** What one chaos scenario reports: the one row `npm run test:chaos` prints for it. */
export interface ScenarioRow {
  scenario: string;
  /** Notifications the publisher accepted (or entries appended, for another producer). */
  published: number;
  /** Distinct notifications each channel's stand-in received (the load scenario: settled, dry run). */
  delivered: Record<Channel, number>;
  /** Accepted notifications never delivered on a channel where the user had a contact, summed over channels. */
  lost: number;
  /** Arrivals beyond the first of the same notification on the same channel, summed over channels. */
  duplicated: number;
  /** Entries in the dead-letter stream (`{<stream>}:dlq`). */
  deadLettered: number;
  /** From the first publish until everything settled. */
  seconds: number;
}

const COLUMNS = ['scenario', 'published', 'email', 'sms', 'push', 'lost', 'duplicated', 'dead-lettered', 'time'];
const WIDTHS = [18, 10, 8, 8, 8, 6, 11, 14, 8];

const line = (cells: string[]) =>
  cells
    .map((cell, i) => cell.padEnd(WIDTHS[i]!))
    .join(' ')
    .trimEnd();

/** Print the row under its header, in one write so that parallel output cannot split them. */
export function printRow(row: ScenarioRow): void {
  const cells = [
    row.scenario,
    String(row.published),
    ...CHANNELS.map((c) => String(row.delivered[c])),
    String(row.lost),
    String(row.duplicated),
    String(row.deadLettered),
    `${row.seconds.toFixed(1)} s`,
  ];
  console.log(`\n${line(COLUMNS)}\n${line(cells)}\n`);
}

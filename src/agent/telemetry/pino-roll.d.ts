// pino-roll ships no types; this is the part of its API the access log uses.
declare module 'pino-roll' {
  import type SonicBoom from 'sonic-boom';
  interface PinoRollOptions {
    file: string;
    size?: string | number;
    frequency?: 'daily' | 'hourly' | number;
    dateFormat?: string;
    extension?: string;
    limit?: { count: number; removeOtherLogFiles?: boolean };
    symlink?: boolean;
    mkdir?: boolean;
    mode?: number;
    minLength?: number;
    maxLength?: number;
    periodicFlush?: number;
    /** Passed on to sonic-boom: 'buffer' makes write() take Buffers. */
    contentMode?: 'utf8' | 'buffer';
  }
  export default function pinoRoll(options: PinoRollOptions): Promise<SonicBoom>;
}

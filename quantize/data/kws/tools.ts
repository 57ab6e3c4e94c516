/**
 * Node-only: the external programs the corpus is made with — espeak-ng and flite (speech),
 * optionally festival's text2wave (speech), and sox (effects, noise synthesis). Each call is one child process; failures become
 * EXTERNAL_TOOL errors carrying the command line and stderr.
 */
import { execFile } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { EdgeRnnError } from '../../../src/index.js';
import { FESTIVAL_VOICES } from './voices.js';

export const TOOLS = ['espeak-ng', 'flite', 'sox'] as const;
export type Tool = (typeof TOOLS)[number] | 'festival';

/** The Debian package of each program run here (text2wave comes with festival). */
const PACKAGE_OF: Record<string, string> = { 'espeak-ng': 'espeak-ng', flite: 'flite', sox: 'sox', text2wave: 'festival' };

export interface RunResult {
  stdout: Buffer;
  stderr: string;
}

/** Runs `cmd args`, resolving with its stdout bytes; rejects with EXTERNAL_TOOL on a non-zero exit. */
export function run(cmd: string, args: readonly string[], opts: { maxBuffer?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: 'buffer', maxBuffer: opts.maxBuffer ?? 256 * 1024 * 1024 }, (err, stdout, stderr) => {
      const errText = stderr.toString('utf8').trim();
      if (err) {
        const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
        reject(
          new EdgeRnnError('EXTERNAL_TOOL', missing ? `${cmd} is not installed: apt-get install ${PACKAGE_OF[cmd] ?? cmd}` : `${cmd} ${args.join(' ')} failed: ${errText || err.message}`, {
            cmd,
            args: [...args],
            stderr: errText,
          }),
        );
        return;
      }
      resolve({ stdout, stderr: errText });
    });
  });
}

/** Where Debian's festvox package puts a festival voice (FESTIVAL_VOICES[voice].dir). */
export function festivalVoiceDir(voice: string): string {
  const v = FESTIVAL_VOICES[voice];
  if (!v) throw new EdgeRnnError('USAGE', `unknown festival voice '${voice}': one of ${Object.keys(FESTIVAL_VOICES).join(', ')}`);
  return `/usr/share/festival/voices/${v.dir}`;
}

/**
 * The tools that are missing here (empty when all run): espeak-ng, flite and sox always, and
 * festival's text2wave with each voice of `festivalVoices` when any is asked for (reported as
 * `festival` and `festival voice <v>`).
 */
export async function missingTools(festivalVoices: readonly string[] = []): Promise<string[]> {
  const probes: Record<(typeof TOOLS)[number], string[]> = { 'espeak-ng': ['--version'], flite: ['-lv'], sox: ['--version'] }; // flite --version exits 1
  const missing: string[] = [];
  for (const t of TOOLS) {
    try {
      await run(t, probes[t]);
    } catch {
      missing.push(t);
    }
  }
  if (festivalVoices.length > 0) {
    try {
      await run('text2wave', ['-h']);
    } catch {
      missing.push('festival');
    }
    for (const v of festivalVoices) if (!existsSync(festivalVoiceDir(v))) missing.push(`festival voice ${v} (${FESTIVAL_VOICES[v]!.package})`);
  }
  return missing;
}

/**
 * Throws EXTERNAL_TOOL naming every missing tool and the Debian packages to install, so a build
 * stops before any work instead of failing on the first missing program halfway through.
 */
export async function assertTools(festivalVoices: readonly string[] = []): Promise<void> {
  const missing = await missingTools(festivalVoices);
  if (missing.length === 0) return;
  const packages = ['espeak-ng flite sox', ...(festivalVoices.length > 0 ? ['festival', ...festivalVoices.map((v) => FESTIVAL_VOICES[v]?.package ?? v)] : [])].join(' ');
  throw new EdgeRnnError('EXTERNAL_TOOL', `missing ${missing.join(', ')}: install the Debian packages (apt-get install ${packages})`, { missing });
}

/**
 * The names of `variants` that are not espeak-ng variants installed here. espeak-ng reads an
 * unknown variant ("en-us+m33") as no variant at all, exits 0 and speaks with the plain voice:
 * a typo made a speaker that duplicates another under a new name.
 */
export async function unknownEspeakVariants(variants: readonly string[]): Promise<{ unknown: string[]; installed: string[] }> {
  const { stdout } = await run('espeak-ng', ['--voices=variant']);
  const installed = [...stdout.toString('utf8').matchAll(/!v\/(\S+)/g)].map((m) => m[1]!);
  return { unknown: variants.filter((v) => !installed.includes(v)), installed };
}

export interface EspeakProsody {
  /** Words per minute (espeak-ng -s, default 175). */
  wpm: number;
  /** Pitch 0..99 (espeak-ng -p, default 50). */
  pitch: number;
}

export interface FliteProsody {
  /** Duration stretch (> 1 is slower), flite --setf duration_stretch. */
  durationStretch: number;
  /** Multiplier of the voice's mean F0, applied through int_f0_target_mean. */
  f0Scale: number;
}

/** Mean F0 (Hz) of the flite voices, for int_f0_target_mean = f0Scale · mean. */
const FLITE_F0_HZ: Record<string, number> = { awb: 110, rms: 100, slt: 170, kal16: 105 };

/**
 * Synthesizes `text` into the WAV file `out` (the engine's own rate: 22.05 kHz espeak-ng, 16 kHz
 * flite, festival's voices their own). Festival takes the flite prosody: Duration_Stretch, and
 * where the voice's intonation model allows it (FESTIVAL_VOICES[v].f0Hz: ked) the target mean F0
 * of its linear-regression model; elsewhere F0 varies only by the corpus's sox pitch shift.
 */
export async function synthesize(engine: 'espeak-ng' | 'flite' | 'festival', voice: string, text: string, prosody: EspeakProsody | FliteProsody, out: string): Promise<void> {
  if (engine === 'espeak-ng') {
    const p = prosody as EspeakProsody;
    await run('espeak-ng', ['-v', voice, '-s', String(Math.round(p.wpm)), '-p', String(Math.round(p.pitch)), '-w', out, text]);
  } else if (engine === 'festival') {
    const p = prosody as FliteProsody;
    const v = FESTIVAL_VOICES[voice];
    if (!v) throw new EdgeRnnError('USAGE', `unknown festival voice '${voice}': one of ${Object.keys(FESTIVAL_VOICES).join(', ')}`);
    const evals = ['-eval', `(${v.command})`, '-eval', `(Parameter.set 'Duration_Stretch ${p.durationStretch.toFixed(3)})`];
    if (v.f0Hz !== undefined) {
      evals.push('-eval', `(set! int_lr_params '((target_f0_mean ${(v.f0Hz * p.f0Scale).toFixed(1)}) (target_f0_std 15) (model_f0_mean 170) (model_f0_std 34)))`);
    }
    const textFile = `${out}.txt`;
    // Latin-1 unless the voice says otherwise: most festival voices of other languages read ISO-8859 text.
    writeFileSync(textFile, `${text}\n`, v.encoding ?? 'latin1');
    try {
      await run('text2wave', ['-o', out, ...evals, textFile]);
    } finally {
      rmSync(textFile, { force: true });
    }
  } else {
    const p = prosody as FliteProsody;
    const f0 = (FLITE_F0_HZ[voice] ?? 110) * p.f0Scale;
    await run('flite', ['-voice', voice, '--setf', `duration_stretch=${p.durationStretch.toFixed(3)}`, '--setf', `int_f0_target_mean=${f0.toFixed(1)}`, '-t', text, '-o', out]);
  }
}

/**
 * sox `input` → mono float32 at `rateHz` through `effects`, read from stdout. -R makes sox
 * repeatable (fixed seeds), -D disables dither. sox carries 32-bit integers between effects, so
 * a chain starts with 12 dB of headroom (`gain -12`) to keep pitch/reverb from clipping; levels
 * are set afterwards anyway. (-G, sox's automatic guard, fails on some reverb chains.)
 */
export async function soxToFloat(input: string[], effects: string[], rateHz: number): Promise<Float32Array> {
  const chain = effects.length > 0 ? ['gain', '-12', ...effects] : [];
  const { stdout } = await run('sox', ['-R', '-D', '-V1', ...input, '-t', 'raw', '-e', 'floating-point', '-b', '32', '-c', '1', '-r', String(rateHz), '-', ...chain]);
  const copy = new Uint8Array(stdout.byteLength);
  copy.set(stdout);
  return new Float32Array(copy.buffer, 0, copy.byteLength >> 2);
}

/** `seconds` of sox-synthesized noise ('whitenoise' | 'pinknoise' | 'brownnoise'), float32 at rateHz. */
export function soxNoise(kind: 'whitenoise' | 'pinknoise' | 'brownnoise', seconds: number, rateHz: number): Promise<Float32Array> {
  return soxToFloat(['-n'], ['synth', String(seconds), kind], rateHz);
}

/** Who speaks, as far as synthesis is concerned (see voices.ts for roles). */
export interface Voice {
  engine: 'espeak-ng' | 'flite' | 'festival';
  voice: string;
}

/** TTS of `text` into the scratch file `tmp`, then sox `effects` → mono float32 at rateHz (16 kHz). */
export async function speak(v: Voice, text: string, prosody: EspeakProsody | FliteProsody, effects: string[], tmp: string, rateHz = 16000): Promise<Float32Array> {
  await synthesize(v.engine, v.voice, text, prosody, tmp);
  try {
    return await soxToFloat([tmp], effects, rateHz);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/**
 * Alerts with hysteresis: turn a noisy score stream into alert on/off events.
 *
 *   off -> on   when score >= onThreshold
 *   on  -> off  when score <  offThreshold and the alert has been on for >= minHoldSteps records
 *
 * offThreshold <= onThreshold leaves a dead band in which the state does not change, so a score
 * hovering around one threshold does not flap. For NAB, emit 1 on the `raised` step and 0
 * otherwise: NAB rewards the first detection in a window and counts each extra detection outside
 * windows as a false positive. Browser-safe; `update` allocates nothing.
 */
import { EdgeRnnError } from '../../errors.js';

export interface AlertHysteresisOptions {
  /** Raise the alert when the score reaches this (>=). */
  onThreshold: number;
  /** Clear the alert when the score drops below this (<); must be <= onThreshold. */
  offThreshold: number;
  /** Records an alert stays on at least, counting the record that raised it (0 or 1: no hold). */
  minHoldSteps: number;
}

/** What the last `update` did. */
export type AlertTransition = 'raised' | 'cleared' | 'none';

export class AlertHysteresis {
  private readonly o: AlertHysteresisOptions;
  private on = false;
  private heldSteps = 0;
  private last: AlertTransition = 'none';

  constructor(options: AlertHysteresisOptions) {
    const { onThreshold, offThreshold, minHoldSteps } = options;
    if (!Number.isFinite(onThreshold) || !Number.isFinite(offThreshold) || offThreshold > onThreshold) {
      throw new EdgeRnnError('DETECTOR_OPTION', `AlertHysteresis: need finite offThreshold <= onThreshold, got off ${offThreshold}, on ${onThreshold}`, { onThreshold, offThreshold });
    }
    if (!Number.isInteger(minHoldSteps) || minHoldSteps < 0) {
      throw new EdgeRnnError('DETECTOR_OPTION', `AlertHysteresis: minHoldSteps must be an integer >= 0, got ${minHoldSteps}`, { minHoldSteps });
    }
    this.o = { onThreshold, offThreshold, minHoldSteps };
  }

  /** Whether the alert is on. */
  get active(): boolean {
    return this.on;
  }

  /** The transition made by the last update. */
  get transition(): AlertTransition {
    return this.last;
  }

  /** Feeds one score; returns whether the alert is on after it. NaN scores never raise and never clear. */
  update(score: number): boolean {
    this.last = 'none';
    if (!this.on) {
      if (score >= this.o.onThreshold) {
        this.on = true;
        this.heldSteps = 1;
        this.last = 'raised';
      }
      return this.on;
    }
    if (score < this.o.offThreshold && this.heldSteps >= this.o.minHoldSteps) {
      this.on = false;
      this.heldSteps = 0;
      this.last = 'cleared';
    } else {
      this.heldSteps++;
    }
    return this.on;
  }

  /**
   * Puts the hysteresis where a saved stream left it: on or off, the records it has been on
   * (counting the raising one; only compared with minHoldSteps) and the last update's transition.
   * The caller checks the combination (ForecastAnomalyDetector.importState).
   */
  restore(on: boolean, heldSteps: number, transition: AlertTransition): void {
    this.on = on;
    this.heldSteps = on ? heldSteps : 0;
    this.last = transition;
  }

  reset(): void {
    this.on = false;
    this.heldSteps = 0;
    this.last = 'none';
  }
}

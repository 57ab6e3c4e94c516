/**
 * The activity classes of the HAR job. The nine are exactly the HMP activities that MANUAL.txt
 * §2 describes as motion primitives; the other five it marks "(complete gesture)" (brush_teeth,
 * comb_hair, eat_meat, eat_soup, use_telephone) and they are also the thinly recorded ones:
 * 3..31 recordings from 1..5 volunteers, most from f1 (docs/har.md has the counts per class and
 * volunteer, printed by `edgernn har stats`).
 */

/** Lower-case HMP folder names, in output order (alphabetical, as the model's labels). */
export const HAR_CLASSES = [
  'climb_stairs',
  'descend_stairs',
  'drink_glass',
  'getup_bed',
  'liedown_bed',
  'pour_water',
  'sitdown_chair',
  'standup_chair',
  'walk',
] as const;
export type HarClass = (typeof HAR_CLASSES)[number];

/** HMP activities left out, with MANUAL.txt's description. */
export const HAR_EXCLUDED: Readonly<Record<string, string>> = {
  brush_teeth: 'complete gesture',
  comb_hair: 'complete gesture',
  eat_meat: 'complete gesture',
  eat_soup: 'complete gesture',
  use_telephone: 'complete gesture',
};

/** Short names for tables (docs, confusion matrices). */
export const HAR_SHORT: Readonly<Record<HarClass, string>> = {
  climb_stairs: 'climb',
  descend_stairs: 'descend',
  drink_glass: 'drink',
  getup_bed: 'getup',
  liedown_bed: 'liedown',
  pour_water: 'pour',
  sitdown_chair: 'sitdown',
  standup_chair: 'standup',
  walk: 'walk',
};

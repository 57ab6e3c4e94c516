/**
 * Vocabulary of the synthetic keyword corpus (Node-free data).
 * The ten Speech Commands keywords, the 25 auxiliary words Speech Commands v2 uses for
 * `_unknown_` (Warden 2018), and a general vocabulary of non-keyword words for babble and for the
 * distractor sentences of the long evaluation stream.
 */
export const KEYWORDS = ['yes', 'no', 'up', 'down', 'left', 'right', 'on', 'off', 'stop', 'go'] as const;
export type Keyword = (typeof KEYWORDS)[number];

export const UNKNOWN_LABEL = '_unknown_';
export const SILENCE_LABEL = '_silence_';
/** Class labels in model order: keywords, then unknown, then silence. */
export const KWS_LABELS: readonly string[] = [...KEYWORDS, UNKNOWN_LABEL, SILENCE_LABEL];

export const UNKNOWN_WORDS = [
  'bed', 'bird', 'cat', 'dog', 'eight', 'five', 'four', 'happy', 'house', 'marvin', 'nine', 'one', 'seven',
  'sheila', 'six', 'three', 'tree', 'two', 'wow', 'zero', 'backward', 'forward', 'follow', 'learn', 'visual',
] as const;

/** Everyday words for babble and distractor sentences; none is a keyword (checked by a test). */
export const FILLER_WORDS = [
  'the', 'a', 'we', 'they', 'it', 'was', 'is', 'will', 'have', 'had', 'there', 'here', 'when', 'then', 'maybe', 'today',
  'tomorrow', 'morning', 'evening', 'weather', 'coffee', 'kitchen', 'window', 'garden', 'music', 'people', 'little', 'really',
  'think', 'about', 'after', 'before', 'because', 'should', 'could', 'would', 'every', 'never', 'always', 'something',
  'nothing', 'someone', 'water', 'table', 'paper', 'letter', 'number', 'station', 'market', 'picture', 'yellow', 'purple',
  'orange', 'silver', 'quiet', 'early', 'later', 'ready', 'better', 'easy', 'hungry', 'sleepy', 'funny', 'pretty', 'city',
  'river', 'mountain', 'island', 'summer', 'winter', 'holiday', 'birthday', 'dinner', 'lunch', 'breakfast', 'sandwich',
  'computer', 'telephone', 'camera', 'bicycle', 'minute', 'hour', 'week', 'month', 'year', 'friend', 'family', 'mother',
  'father', 'brother', 'sister', 'teacher', 'doctor', 'question', 'answer', 'problem', 'story', 'movie', 'game', 'ball',
  'chair', 'door', 'light', 'sound', 'voice', 'color', 'cold', 'warm', 'slow', 'fast', 'small', 'large', 'open', 'close',
  'bring', 'carry', 'watch', 'listen', 'remember', 'forget', 'believe', 'wonder', 'travel', 'visit', 'cook', 'clean', 'paint',
  ...UNKNOWN_WORDS,
] as const;

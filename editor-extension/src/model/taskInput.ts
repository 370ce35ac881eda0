/**
 * What a person types when adding or editing a task, checked before anything is sent:
 * a typed value that is not valid gets a message where it was typed, never a silent
 * default or a dropped answer.
 */

/** The priority a task gets when none is typed. */
export const DEFAULT_PRIORITY = 5;

/** A typed priority: a whole number from 1 to 10, empty for the default. */
export function parsePriority(text: string): { priority: number } | { error: string } {
  const typed = text.trim();
  if (typed === '') {
    return { priority: DEFAULT_PRIORITY };
  }
  if (!/^\d+$/.test(typed) || Number(typed) < 1 || Number(typed) > 10) {
    return { error: `“${typed}” is not a priority: type a whole number from 1 (most urgent) to 10 (least urgent)` };
  }
  return { priority: Number(typed) };
}

/** A task one can pick as a dependency, as the list shows it. */
export interface DependencyCandidate {
  id: string;
  description: string;
}

/**
 * What is wrong with the text typed into the dependency list when it is accepted:
 * the words of it that match no task of the list (by id or description), such as an
 * id that does not exist. Undefined when nothing is typed, or when every word
 * matches (the text was a filter).
 */
export function unknownDependencies(typed: string, candidates: readonly DependencyCandidate[]): string | undefined {
  const words = typed
    .split(/[\s,]+/)
    .map((word) => word.trim())
    .filter((word) => word !== '');
  const matches = (word: string): boolean =>
    candidates.some(
      (task) => task.id.toLowerCase().includes(word.toLowerCase()) || task.description.toLowerCase().includes(word.toLowerCase()),
    );
  const unknown = words.filter((word) => !matches(word));
  if (unknown.length === 0) {
    return undefined;
  }
  return `${unknown.join(', ')} matches no task to depend on; tick tasks of the list, or clear the text`;
}

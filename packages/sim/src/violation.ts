/** The simulator's one error type: an invariant that failed inside a run. */

/** Thrown inside a run when an invariant fails; the runner turns it into a report. */
export class InvariantViolation extends Error {
  constructor(
    readonly invariant: string,
    message: string,
  ) {
    super(`${invariant}: ${message}`);
  }
}

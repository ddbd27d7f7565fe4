/**
 * The SPDUs of the reference model (ITU-T X.225 clause 7 names), as the model's own data: what one
 * side puts in flight and the other receives, in order. Only the fields the X.225 rules read are
 * kept; user data is left out (the rules never look at it).
 */
export type ResyncType = 'abandon' | 'restart' | 'set';

export type Spdu =
  /** DT: normal data (a whole message, named so its delivery can be followed). */
  | { t: 'DT'; text: string }
  /** GT: give tokens. */
  | { t: 'GT'; tokens: number }
  /** PT: please tokens. */
  | { t: 'PT'; tokens: number }
  /** GTC: give tokens confirm (S-CONTROL-GIVE): every token the sender held. */
  | { t: 'GTC'; tokens: number }
  /** MIP: minor sync point. */
  | { t: 'MIP'; serial: number; confirm: boolean }
  /** MIA: minor sync ack, cumulative. */
  | { t: 'MIA'; serial: number }
  /** MAP: major sync point. */
  | { t: 'MAP'; serial: number }
  /** AE: activity end (a major sync point that ends the activity). */
  | { t: 'AE'; serial: number }
  /** MAA: major sync ack (also answers AE, X.225's AEA). */
  | { t: 'MAA'; serial: number }
  /** RS: resynchronize; `tokens` are the ones the requester holds afterwards (PROTOCOL.md 18.7). */
  | { t: 'RS'; type: ResyncType; serial: number; tokens: number }
  /** RA: resynchronize ack. */
  | { t: 'RA'; serial: number; tokens: number }
  /** AS: activity start. */
  | { t: 'AS'; id: string }
  /** AR: activity resume, continuing `oldId` after its sync point `serial`. */
  | { t: 'AR'; id: string; oldId: string; serial: number }
  /** AI, AD: activity interrupt, discard; AIA, ADA their acks. */
  | { t: 'AI'; reason: number }
  | { t: 'AIA' }
  | { t: 'AD'; reason: number }
  | { t: 'ADA' }
  /** FN, DN, NF: finish, disconnect, not finished (orderly release). */
  | { t: 'FN' }
  | { t: 'DN' }
  | { t: 'NF' };

export type SpduName = Spdu['t'];

/**
 * SPDUs a side that waits for its RA, AIA or ADA still acts on; everything else arriving then is
 * data in transit, discarded (X.225 7.35/7.37/7.39: the requester purges what the peer sent before
 * it saw the request).
 */
export const PASS_WHILE_PURGING: ReadonlySet<SpduName> = new Set(['RS', 'RA', 'AI', 'AD', 'AIA', 'ADA']);

import { describe, expect, it } from "vitest";
import type { Pair } from "../api/types";
import { pairStateText } from "./PairStateNote";

// As the policy writes it (smsfleet.policy.service: "<action> by the policy: <evidence>").
const POLICY_PAUSE =
  "paused by the policy: 5 of 20 delivered (25 %) in the last 30 min: below the 50 % pause line with 95 % confidence";

function todayAt(hours: number, minutes: number): string {
  const at = new Date();
  at.setUTCHours(hours, minutes, 0, 0);
  return at.toISOString();
}

const pair = (changes: Partial<Pair>): Pair =>
  ({
    key: "IN_docomo",
    state: "enabled",
    state_actor: null,
    state_reason: null,
    state_changed_at: null,
    ...changes,
  }) as Pair;

describe("pairStateText", () => {
  it("says nothing of an enabled pair", () => {
    expect(pairStateText(pair({ state_actor: "policy", state_reason: "resumed by the policy: fine" }))).toBeNull();
  });

  it("says an enabled pair of a halted country sends nothing", () => {
    expect(pairStateText(pair({ country: "IN", country_halted: true }))).toBe(
      "Its country IN is halted (cap 0): its sessions run but are granted no send",
    );
  });

  it("gives a policy pause since when and on what evidence, without repeating who", () => {
    const text = pairStateText(
      pair({ state: "paused", state_actor: "policy", state_reason: POLICY_PAUSE, state_changed_at: todayAt(12, 12) }),
    );
    expect(text).toMatch(
      /^Paused by policy — since 12:12 UTC: 5 of 20 delivered \(25 %\) in the last 30 min: below the 50 % pause line with 95 % confidence$/,
    );
  });

  it("names the person who paused or disabled a pair, with their reason", () => {
    const paused = pair({ state: "paused", state_actor: "ops", state_reason: "route under check", state_changed_at: todayAt(9, 5) });
    expect(pairStateText(paused)).toMatch(/^Paused by ops — since 09:05 UTC: route under check$/);
    expect(pairStateText(pair({ state: "disabled" }))).toBe("Disabled by someone");
  });

  it("says a probing pair is on trial after a policy pause", () => {
    const probing = pair({
      state: "probing",
      state_actor: "policy",
      state_reason: "probing by the policy: cool-down of 2 min over: at most one probe per 30 s; from 10 probes, resumed once confidently over 70 % (all or the newest 10), paused again once confidently under 50 %; at 30 probes, resumed if at or over 70 %, else paused again",
    });
    expect(pairStateText(probing)).toBe("Probing after a policy pause: cool-down of 2 min over: at most one probe per 30 s; from 10 probes, resumed once confidently over 70 % (all or the newest 10), paused again once confidently under 50 %; at 30 probes, resumed if at or over 70 %, else paused again");
  });

  it("gives the day of a change made before today", () => {
    const text = pairStateText(
      pair({ state: "paused", state_actor: "policy", state_reason: POLICY_PAUSE, state_changed_at: "2025-01-05T09:30:00Z" }),
    );
    expect(text).toMatch(/^Paused by policy — since Jan 5, 09:30 UTC: 5 of 20 delivered/);
  });
});

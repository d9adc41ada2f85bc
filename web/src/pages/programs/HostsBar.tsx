import { useQuery } from "@tanstack/react-query";
import type { Host } from "../../api/types";
import { hostsQuery } from "../../data/queries";

const REFRESH_MS = 10_000;

function hostTitle(host: Host): string {
  // Viewers are not told how to log in to a host: its name stands in for its address.
  const where = host.address ?? host.name;
  if (host.reachable === false) return `${where}: unreachable — ${host.error ?? "no answer"}`;
  if (host.reachable === null) return `${where}: not checked yet`;
  return `${where}: reachable`;
}

/** The hosts sessions run on, when there is more than this one: reachability and counts. */
export function HostsBar() {
  const hosts = useQuery({ ...hostsQuery(), refetchInterval: REFRESH_MS });
  if (!hosts.data || hosts.data.length < 2) return null;
  return (
    <ul className="hosts-bar" aria-label="Hosts" data-testid="hosts-bar">
      {hosts.data.map((host) => (
        <li
          key={host.name}
          className={`hosts-bar__host hosts-bar__host--${host.reachable === false ? "down" : host.reachable ? "up" : "unknown"}`}
          title={hostTitle(host)}
          data-testid={`host-${host.name}`}
        >
          <span className="hosts-bar__dot" aria-hidden="true" />
          <strong>{host.name}</strong>
          <span className="muted">
            {host.running}/{host.sessions} running
            {host.reachable === false ? " · unreachable" : ""}
          </span>
        </li>
      ))}
    </ul>
  );
}

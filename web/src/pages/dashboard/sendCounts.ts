// How the dashboard names the two counts of sends. A country's cap counts a send when it
// is granted, and `granted` never passes it in any minute; `sent` counts a send when its
// outcome is reported, up to minutes later, so its minutes can read over the cap even
// though the gateway never saw more than the cap in 60 s. Wherever a figure is set against
// the cap it is `granted`; where `sent` is shown it says it counts by report time.

/** The figure set against the cap. */
export const GRANTED_LABEL = "Granted (sends a minute, by grant time)";

/** Sends counted when their outcome came. */
export const SENT_LABEL = "Sent, by report time";

/** Why sent may pass the cap for a minute: a hover or legend note beside it. */
export const SENT_NOTE =
  "Sent counts a send when its outcome is reported, up to minutes after its grant: a minute's reports can hold more sends than the cap let through in any 60 s. Granted counts each send when it was granted and never passes the cap.";

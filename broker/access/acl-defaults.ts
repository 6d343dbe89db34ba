// The default topic rights of each role, following the MQTT contract in DESIGN.md. A config file
// may replace any list (acl.<role>.publish / acl.<role>.subscribe), and fence topics off for every
// role but admin (acl.deny, empty by default). `{username}` stands for the client's user name,
// which for a device is its device id.
//
// Commands: only the backend and admin publish requests (`cmd/v1/{device}/{command}`); a device
// publishes only replies under its own name (`.../reply`), never a request, not even to itself,
// and the backend never a reply, so neither can answer for the other.
export const DEFAULT_ACL = {
  device: {
    // Its own readings, status (birth and will) and sensor health, and replies to its own commands.
    // Not its own `stored`: only the backend may tell an agent that readings are safe to forget.
    publish: [
      'telemetry/v1/{username}/readings',
      'telemetry/v1/{username}/status',
      'telemetry/v1/{username}/sensors',
      'cmd/v1/{username}/+/reply',
    ],
    // The commands addressed to it (the contract's filters.commandsFor), and the backend's
    // confirmation of what it has stored. Not `cmd/v1/{username}/#`: that would also carry the
    // device's own replies back to it (MQTT 3.1.1 has no "no local"), doubling command traffic on
    // its link, and whatever an admin publishes deeper under its name.
    subscribe: ['cmd/v1/{username}/+', 'telemetry/v1/{username}/stored'],
  },
  backend: {
    // Alert states and events, commands to any device, and each device's stored confirmation.
    publish: ['alerts/v1/#', 'cmd/v1/+/+', 'telemetry/v1/+/stored'],
    // All telemetry, its own retained alert states (read back at start), command replies.
    subscribe: ['telemetry/v1/#', 'alerts/v1/#', 'cmd/v1/+/+/reply'],
  },
  viewer: {
    publish: [],
    // Alerts and device status, nothing else.
    subscribe: ['alerts/v1/#', 'telemetry/v1/+/status'],
  },
  admin: {
    publish: ['#'],
    // '#' does not match '$' topics [MQTT-4.7.2-1]: $SYS is listed on its own.
    subscribe: ['#', '$SYS/#'],
  },
} as const satisfies Record<string, { publish: readonly string[]; subscribe: readonly string[] }>;

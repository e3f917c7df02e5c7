package leader

// ReleaseTimeout bounds the release of the leadership at a graceful stop (a
// step of the stop sequence that shutdown_timeout must hold).
const ReleaseTimeout = releaseTimeout

// The name of a signal as a shell and the kill(1) manual spell it, for the backends' messages
// ("killed by signal SIGSEGV (11)"): one spelling for a local process and a Slurm job.
#pragma once

#include <string>

namespace taskloom::backends {

/// "SIGTERM", "SIGRTMIN+2" for the real-time signals, "signal" for a number that names none.
std::string signal_name(int sig);

}  // namespace taskloom::backends

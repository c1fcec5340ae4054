// Internal: the one message of a TypeMismatchError in the runtime — what was asked for, what
// is held — for the templates that read a std::any (results, worker resources).
#pragma once

#include <any>
#include <string>
#include <typeinfo>

namespace taskloom::runtime::detail {

/// The readable (demangled) name of a type, e.g. "std::vector<int>".
std::string type_name(const std::type_info& type);

/// Throws TypeMismatchError: "<what> holds <held type> (or nothing), not the requested
/// <requested type> — <fix>".
[[noreturn]] void throw_type_mismatch(const std::string& what, const std::type_info& requested,
                                      const std::any& held, const std::string& fix);

}  // namespace taskloom::runtime::detail

# The workflow commands of `taskloom` (run, resume, plan, status, runs, logs, cancel; their
# sources are the *_command.cpp files the glob in CMakeLists.txt picks up) and what only the
# command needs beside the runner layer (src/runner): apps/taskloom/runner/ holds the live
# display, signal handling and the status/JSON pictures of a recorded run.
file(GLOB taskloom_cli_runner_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/runner/*.cpp)
add_library(taskloom_cli_runner STATIC ${taskloom_cli_runner_sources})
target_include_directories(taskloom_cli_runner PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(taskloom_cli_runner
  PUBLIC taskloom::runner taskloom::workflow taskloom::store taskloom::backends taskloom::runtime
         nlohmann_json::nlohmann_json
  PRIVATE taskloom_warnings)
target_link_libraries(taskloom PRIVATE taskloom_cli_runner)

# install(EXPORT) + package config: an outside project does
#   find_package(taskloom CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE taskloom::runtime)
# or ::cluster, ::store, ::backends, ::workflow, ::runner.
include(CMakePackageConfigHelpers)

install(DIRECTORY include/taskloom DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS taskloom_core taskloom_graph taskloom_runtime taskloom_cluster taskloom_store
                taskloom_backends taskloom_workflow taskloom_runner
        EXPORT taskloomTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT taskloomTargets NAMESPACE taskloom::
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/taskloom)

configure_package_config_file(cmake/taskloomConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/taskloomConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/taskloom)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/taskloomConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/taskloomConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/taskloomConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/taskloom)

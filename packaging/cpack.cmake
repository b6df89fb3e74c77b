# Installation layout and the Debian package (cpack -G DEB from a Release build): the binary,
# the systemd unit with its sysusers/tmpfiles snippets, the default /etc/weir files (conffiles),
# and the Grafana dashboard and Prometheus rules operators import. Included last by the top
# CMakeLists.txt.

set(_weir_systemd ${PROJECT_SOURCE_DIR}/systemd)
set(_weir_packaging ${PROJECT_SOURCE_DIR}/packaging)

# Paths relative to the prefix (/usr in the package); /etc is absolute, as Debian wants it.
install(TARGETS weir RUNTIME DESTINATION bin)
# A stripped install (cpack) also drops the compiler's .comment section, as dh_strip does.
install(CODE "
  if(CMAKE_INSTALL_DO_STRIP)
    execute_process(COMMAND \"${CMAKE_OBJCOPY}\" --remove-section=.comment
                            \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/bin/weir\"
                    COMMAND_ERROR_IS_FATAL ANY)
  endif()")
install(FILES ${_weir_systemd}/weir.service DESTINATION lib/systemd/system)
install(FILES ${_weir_systemd}/weir.sysusers.conf DESTINATION lib/sysusers.d RENAME weir.conf)
install(FILES ${_weir_systemd}/weir.tmpfiles.conf DESTINATION lib/tmpfiles.d RENAME weir.conf)
install(FILES ${PROJECT_SOURCE_DIR}/examples/weir.yaml DESTINATION /etc/weir)
install(DIRECTORY DESTINATION /etc/weir/pipelines.d)
# Secrets live here: readable by root only (systemd reads it before dropping to weir).
install(FILES ${_weir_packaging}/etc/default-weir DESTINATION /etc/default RENAME weir
        PERMISSIONS OWNER_READ OWNER_WRITE)
install(FILES ${_weir_packaging}/grafana/weir-dashboard.json DESTINATION share/weir/grafana)
install(FILES ${_weir_packaging}/prometheus/weir-alerts.yml DESTINATION share/weir/prometheus)
# The documentation keeps the repository's layout, so README's links (docs/pipelines.md,
# examples/) resolve in /usr/share/doc/weir too.
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION share/doc/weir)
install(FILES ${_weir_systemd}/README.md DESTINATION share/doc/weir RENAME README.systemd.md)
install(FILES ${_weir_packaging}/README.md DESTINATION share/doc/weir RENAME README.packaging.md)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION share/doc/weir/docs
        FILES_MATCHING PATTERN "*.md")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples/ DESTINATION share/doc/weir/examples
        FILES_MATCHING PATTERN "*.yaml" PATTERN "*.md" PATTERN "*.jsonl")
install(FILES ${_weir_packaging}/debian/copyright DESTINATION share/doc/weir)

# Generated at build time (target weir_package_docs, part of `all`, which cpack's package target
# builds first): weir(1) written by the binary itself from its CLI11 definitions, and the
# changelog; both gzip -9n as Debian wants (no name or time stamp, so reproducible).
set(_weir_generated ${PROJECT_BINARY_DIR}/packaging)
add_custom_command(
  OUTPUT ${_weir_generated}/weir.1 ${_weir_generated}/weir.1.gz
  COMMAND ${CMAKE_COMMAND} -E make_directory ${_weir_generated}
  COMMAND sh -c "\"$1\" --generate-man > \"$2\".tmp && mv \"$2\".tmp \"$2\"" sh
          $<TARGET_FILE:weir> ${_weir_generated}/weir.1
  COMMAND sh -c "gzip -9n -c \"$1\" > \"$1\".gz" sh ${_weir_generated}/weir.1
  DEPENDS weir
  COMMENT "Writing the manual page weir.1 from the command line's definitions"
  VERBATIM)
add_custom_command(
  OUTPUT ${_weir_generated}/changelog.Debian.gz
  COMMAND ${CMAKE_COMMAND} -E make_directory ${_weir_generated}
  COMMAND sh -c "gzip -9n -c \"$1\" > \"$2\"" sh ${_weir_packaging}/debian/changelog
          ${_weir_generated}/changelog.Debian.gz
  DEPENDS ${_weir_packaging}/debian/changelog
  VERBATIM)
add_custom_target(weir_package_docs ALL
                  DEPENDS ${_weir_generated}/weir.1.gz ${_weir_generated}/changelog.Debian.gz)
install(FILES ${_weir_generated}/weir.1.gz DESTINATION share/man/man1)
install(FILES ${_weir_generated}/changelog.Debian.gz DESTINATION share/doc/weir)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME weir)
set(CPACK_PACKAGE_VENDOR "weir")
# Whoever builds and distributes the package sets a reachable address here; the default is a
# placeholder under the reserved .invalid domain (RFC 2606), which lintian accepts as well formed.
set(WEIR_PACKAGE_MAINTAINER "weir maintainers <maintainers@weir.invalid>"
    CACHE STRING "Maintainer field of the Debian package: NAME <ADDRESS>")
set(CPACK_PACKAGE_CONTACT "${WEIR_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${WEIR_PACKAGE_MAINTAINER}")
# The Debian revision comes from the newest entry of debian/changelog, whose upstream part must
# be the project's version: the package's version and its changelog cannot disagree.
file(STRINGS ${_weir_packaging}/debian/changelog _weir_changelog_top LIMIT_COUNT 1)
if(NOT _weir_changelog_top MATCHES "^weir \\(([^-)]+)-([^)]+)\\)")
  message(FATAL_ERROR "packaging/debian/changelog: the first line must be "
                      "\"weir (VERSION-REVISION) DISTRIBUTION; urgency=...\"")
endif()
set(_weir_changelog_version ${CMAKE_MATCH_1})
set(CPACK_DEBIAN_PACKAGE_RELEASE ${CMAKE_MATCH_2})
if(NOT _weir_changelog_version STREQUAL PROJECT_VERSION)
  message(WARNING "packaging/debian/changelog starts at ${_weir_changelog_version}, the project "
                  "is ${PROJECT_VERSION}: add a changelog entry for the new version")
endif()
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "streaming data-quality monitoring daemon")
# Lines of at most 80 columns (Debian's extended description), after the summary; CPack indents
# them.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "weir reads streams (files, sockets, Kafka), cuts them into event-time
windows, evaluates data-quality checks on every window, writes the results
to outputs and exports everything as Prometheus metrics. It runs under
systemd and survives crashes without losing or double-counting data.")
set(CPACK_PACKAGE_DESCRIPTION "${CPACK_DEBIAN_PACKAGE_DESCRIPTION}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# postinst falls back to adduser where systemd-sysusers is missing; dpkg-shlibdeps appends the
# shared libraries' packages.
set(CPACK_DEBIAN_PACKAGE_DEPENDS adduser)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS systemd)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "prometheus, prometheus-alertmanager, grafana")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${_weir_packaging}/debian/conffiles ${_weir_packaging}/debian/postinst
    ${_weir_packaging}/debian/prerm ${_weir_packaging}/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# Debug symbols stay out of the package; build type Release strips nothing by itself.
set(CPACK_STRIP_FILES ON)
include(CPack)

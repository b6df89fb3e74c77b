# Installation layout and the Debian package (cpack -G DEB from a Release build): the binary,
# the systemd unit with its sysusers/tmpfiles snippets, the default /etc/weir files (conffiles),
# and the Grafana dashboard and Prometheus rules operators import. Included last by the top
# CMakeLists.txt.

set(_weir_systemd ${PROJECT_SOURCE_DIR}/systemd)
set(_weir_packaging ${PROJECT_SOURCE_DIR}/packaging)

# Paths relative to the prefix (/usr in the package); /etc is absolute, as Debian wants it.
install(TARGETS weir RUNTIME DESTINATION bin)
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
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION share/doc/weir)
install(FILES ${_weir_systemd}/README.md DESTINATION share/doc/weir RENAME README.systemd.md)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples/ DESTINATION share/doc/weir/examples
        FILES_MATCHING PATTERN "*.yaml")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME weir)
set(CPACK_PACKAGE_VENDOR "weir")
set(CPACK_PACKAGE_CONTACT "weir maintainers <weir@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "streaming data-quality monitoring daemon")
set(CPACK_PACKAGE_DESCRIPTION
    "weir reads streams (files, sockets, Kafka), cuts them into event-time windows, evaluates \
data-quality checks on every window, writes the results to outputs and exports everything as \
Prometheus metrics. It runs under systemd and survives crashes without losing or double-counting \
data.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # shared-library dependencies from dpkg-shlibdeps
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS systemd)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "prometheus, prometheus-alertmanager, grafana")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${_weir_packaging}/debian/conffiles ${_weir_packaging}/debian/postinst
    ${_weir_packaging}/debian/prerm ${_weir_packaging}/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# Debug symbols stay out of the package; build type Release strips nothing by itself.
set(CPACK_STRIP_FILES ON)
include(CPack)

# What `cmake --install` puts where, and the Debian package CPack makes of it (`cpack -G DEB` in
# a build tree configured with -DCMAKE_INSTALL_PREFIX=/usr). Only the daemon, the operator CLI,
# the systemd unit, the example configuration and the docs: tests, benchmarks, tools, examples
# and the static module libraries stay in the build tree.
include(GNUInstallDirs)

set(GALAXY_PACKAGE_NAME galaxy-runtime-manager)
set(GALAXY_PACKAGING_DIR ${PROJECT_SOURCE_DIR}/packaging)
# The unit and the daemon's defaults name /etc/galaxy; GNUInstallDirs makes SYSCONFDIR /etc for
# the /usr prefix and <prefix>/etc otherwise.
set(GALAXY_CONFDIR ${CMAKE_INSTALL_FULL_SYSCONFDIR}/galaxy)
# Not CMAKE_INSTALL_DOCDIR: that is named after the CMake project (galaxy_runtime_manager).
set(GALAXY_DOCDIR ${CMAKE_INSTALL_DATAROOTDIR}/doc/${GALAXY_PACKAGE_NAME})

install(TARGETS runtime-manager galaxy-health RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The checked-in unit names the package's paths, so systemd-analyze can read it as it is; another
# prefix gets a copy that names that prefix's.
set(unit_file ${GALAXY_PACKAGING_DIR}/galaxy-runtime-manager.service)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${unit_file})
file(READ ${unit_file} unit)
string(REPLACE "/usr/bin/runtime-manager" "${CMAKE_INSTALL_FULL_BINDIR}/runtime-manager"
  unit "${unit}")
string(REPLACE "/etc/galaxy/" "${GALAXY_CONFDIR}/" unit "${unit}")
string(REPLACE "file:/usr/share/doc/${GALAXY_PACKAGE_NAME}/"
  "file:${CMAKE_INSTALL_PREFIX}/${GALAXY_DOCDIR}/" unit "${unit}")
file(CONFIGURE OUTPUT ${CMAKE_BINARY_DIR}/packaging/galaxy-runtime-manager.service
  CONTENT "${unit}" @ONLY)
# lib/, not CMAKE_INSTALL_LIBDIR: systemd reads <prefix>/lib/systemd/system, never lib64 or a
# multiarch triplet.
install(FILES ${CMAKE_BINARY_DIR}/packaging/galaxy-runtime-manager.service
  DESTINATION lib/systemd/system)

# Conffiles of the package (packaging/debian/conffiles). The env file is where the Redis and
# PostgreSQL passwords go: readable by root only (systemd reads it before dropping to the user).
install(FILES ${GALAXY_PACKAGING_DIR}/runtime-manager.toml DESTINATION ${GALAXY_CONFDIR})
install(FILES ${GALAXY_PACKAGING_DIR}/runtime-manager.env DESTINATION ${GALAXY_CONFDIR}
  PERMISSIONS OWNER_READ OWNER_WRITE)

# Debian policy: the copyright file and a gzip -9n changelog in the package's doc dir (a native
# package's changelog is changelog.gz).
set(changelog ${GALAXY_PACKAGING_DIR}/debian/changelog)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${changelog})
file(STRINGS ${changelog} changelog_head LIMIT_COUNT 1)
if(NOT changelog_head MATCHES "^${GALAXY_PACKAGE_NAME} \\(${PROJECT_VERSION}\\) ")
  message(FATAL_ERROR "packaging/debian/changelog starts with '${changelog_head}': its first "
    "entry must be version ${PROJECT_VERSION} (project() in CMakeLists.txt)")
endif()
execute_process(COMMAND gzip -9nc INPUT_FILE ${changelog}
  OUTPUT_FILE ${CMAKE_BINARY_DIR}/packaging/changelog.gz RESULT_VARIABLE gzip_rc)
if(NOT gzip_rc EQUAL 0)
  message(FATAL_ERROR "gzip -9nc ${changelog} failed (${gzip_rc})")
endif()
install(FILES ${GALAXY_PACKAGING_DIR}/debian/copyright ${CMAKE_BINARY_DIR}/packaging/changelog.gz
  ${PROJECT_SOURCE_DIR}/README.md
  DESTINATION ${GALAXY_DOCDIR})
# Under docs/ as in the source tree, so README.md's links to docs/*.md still resolve.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${GALAXY_DOCDIR}/docs
  FILES_MATCHING PATTERN "*.md")

# ---------------------------------------------------------------------------------------------
# CPack: the .deb.
set(CPACK_PACKAGE_NAME ${GALAXY_PACKAGE_NAME})
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "Galaxy")
set(CPACK_PACKAGE_CONTACT
  "Galaxy Runtime Manager maintainers <maintainers@users.noreply.r-seed-a3b2a30e.example>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "health events of Galaxy game-engine containers")
set(CPACK_PACKAGE_DESCRIPTION
  "Galaxy Runtime Manager watches the Docker containers of Galaxy game engines
(those labelled galaxy.game_id) through the Docker events stream, a periodic
inspect and an active HTTP probe, and publishes their technical health: every
event goes exactly once to a Redis stream, and PostgreSQL keeps each game's
latest health.

This package holds the daemon (runtime-manager, run by a hardened systemd unit
as the system user galaxy-rm) and the operator CLI (galaxy-health).")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
# The /etc/galaxy files are installed by absolute path: CPack must stage them under DESTDIR.
set(CPACK_SET_DESTDIR ON)
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Appended to what dpkg-shlibdeps finds: postinst's adduser.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "docker.io | docker-ce")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "redis-server, postgresql")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${GALAXY_PACKAGING_DIR}/debian/postinst ${GALAXY_PACKAGING_DIR}/debian/prerm
  ${GALAXY_PACKAGING_DIR}/debian/postrm ${GALAXY_PACKAGING_DIR}/debian/conffiles)
# Maintainer scripts 0755 and conffiles 0644 whatever the checkout's modes are.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

# The package is laid out for /usr (unit in /usr/lib/systemd/system, conffiles in /etc); a tree
# configured for /usr/local would make one that names paths it does not install.
set(CPACK_PROJECT_CONFIG_FILE ${CMAKE_BINARY_DIR}/packaging/cpack-project-config.cmake)
file(CONFIGURE OUTPUT ${CPACK_PROJECT_CONFIG_FILE} CONTENT [[
if(CPACK_GENERATOR STREQUAL "DEB" AND NOT CPACK_PACKAGING_INSTALL_PREFIX STREQUAL "/usr")
  message(FATAL_ERROR "a .deb needs a tree configured with -DCMAKE_INSTALL_PREFIX=/usr "
    "(this one has ${CPACK_PACKAGING_INSTALL_PREFIX})")
endif()
]] @ONLY)

include(CPack)

# bash completion, generated by the CLI itself at build time so it cannot drift from its flags.
set(galaxy_completion ${CMAKE_BINARY_DIR}/packaging/galaxy-health.bash)
add_custom_command(OUTPUT ${galaxy_completion}
  COMMAND galaxy-health completion bash > ${galaxy_completion}
  DEPENDS galaxy-health
  COMMENT "galaxy-health completion bash")
add_custom_target(galaxy_health_completion ALL DEPENDS ${galaxy_completion})
install(FILES ${galaxy_completion} DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/bash-completion/completions
  RENAME galaxy-health)

# cmake -P script: configure, build and run the consumer project in one mode.
# Inputs: MODE (find_package|add_subdirectory|fetchcontent), TOOLCHAIN (native|wasm),
# SOURCE, TESSERA_SOURCE, PREFIX, WORK, GENERATOR.
file(REMOVE_RECURSE ${WORK})
set(configure ${CMAKE_COMMAND} -S ${SOURCE} -B ${WORK} -G ${GENERATOR}
  -DCMAKE_BUILD_TYPE=Release -DTESSERA_CONSUMER_MODE=${MODE} -DTESSERA_SOURCE=${TESSERA_SOURCE}
  -DCMAKE_PREFIX_PATH=${PREFIX})
if(TOOLCHAIN STREQUAL "wasm")
  set(ENV{NODE_PATH} /usr/share/nodejs)
  # The Emscripten toolchain only searches its sysroot; let it see the install prefix.
  set(configure emcmake ${configure} -DCMAKE_FIND_ROOT_PATH=${PREFIX})
endif()

execute_process(COMMAND ${configure} RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "consumer configure failed (${MODE}, ${TOOLCHAIN})")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK} RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "consumer build failed (${MODE}, ${TOOLCHAIN})")
endif()
if(TOOLCHAIN STREQUAL "wasm")
  execute_process(COMMAND node ${WORK}/consumer.js RESULT_VARIABLE rc OUTPUT_VARIABLE out)
else()
  execute_process(COMMAND ${WORK}/consumer RESULT_VARIABLE rc OUTPUT_VARIABLE out)
endif()
message(STATUS "consumer output: ${out}")
if(rc OR NOT out MATCHES "consumer ok")
  message(FATAL_ERROR "consumer run failed (${MODE}, ${TOOLCHAIN}): ${out}")
endif()

# Included by the example tools' ctest drivers (examples/*/check_cli.cmake, run as cmake -P,
# registered by tessera_add_cli_checks): `tool`, the command that runs TOOL (behind EMULATOR,
# whose arguments come joined by '|'), and run_tool().
file(MAKE_DIRECTORY ${WORK_DIR})
set(tool ${TOOL})
if(EMULATOR)
  string(REPLACE "|" ";" EMULATOR "${EMULATOR}")
  set(tool ${EMULATOR} ${TOOL})
endif()

# run_tool(<out var> <err var> <rc var> <tool arguments>...)
function(run_tool out_var err_var rc_var)
  execute_process(COMMAND ${tool} ${ARGN} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  set(${out_var} "${out}" PARENT_SCOPE)
  set(${err_var} "${err}" PARENT_SCOPE)
  set(${rc_var} "${rc}" PARENT_SCOPE)
endfunction()

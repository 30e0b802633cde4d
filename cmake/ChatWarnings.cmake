# One warnings list for every target of the project (../shared/STYLE.md):
# call chat_target_warnings(<target>) after add_library/add_executable.
set(CHAT_WARNING_FLAGS
  -Wall -Wextra -Wstrict-prototypes -Wshadow -Wconversion -Wno-sign-conversion
  -Wpointer-arith -Wcast-align -Wformat=2 -Wmissing-prototypes
  -Wnull-dereference -Wvla)

if(CHAT_SANITIZER AND NOT CHAT_SANITIZER MATCHES "^(address|undefined|thread)$")
  message(FATAL_ERROR "CHAT_SANITIZER must be address, undefined or thread, not '${CHAT_SANITIZER}'")
endif()

function(chat_target_warnings target)
  target_compile_options(${target} PRIVATE ${CHAT_WARNING_FLAGS})
  if(CHAT_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(CHAT_SANITIZER)
    target_compile_options(${target} PRIVATE -fsanitize=${CHAT_SANITIZER} -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=${CHAT_SANITIZER})
  endif()
endfunction()

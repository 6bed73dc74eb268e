/* Runs a Lua script with the standard libraries, for Lua built by llpar and serially. */
#include <stdio.h>
#include <stdlib.h>
#include "lauxlib.h"
#include "lua.h"
#include "lualib.h"

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s SCRIPT [SCALE]\n", argv[0]);
    return 2;
  }
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  /* The workload's size: SCALE (default 1) from the second argument. */
  lua_pushnumber(L, argc > 2 ? atof(argv[2]) : 1.0);
  lua_setglobal(L, "SCALE");
  if (luaL_dofile(L, argv[1]) != LUA_OK) {
    fprintf(stderr, "lua error: %s\n", lua_tostring(L, -1));
    return 1;
  }
  lua_close(L);
  return 0;
}

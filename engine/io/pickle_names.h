/* Pickle opcode names (protocols 0 to 5), for error messages. */
#ifndef VE_IO_PICKLE_NAMES_H
#define VE_IO_PICKLE_NAMES_H

/* "BINUNICODE", ..., or "unknown opcode". */
const char *ve_pickle_op_name(unsigned char op);

#endif

/*
 * test-cli-output.c -- escaping of bytes and JSON byte fields.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "output.h"
#include "tap.h"

int
main(void)
{
	struct tap	 t = { 0 };
	char		*s;
	json_t		*obj;

	s = output_escape((const uint8_t *)"plain text", 10);
	is_str(&t, s, "plain text", "printable ASCII passes");
	free(s);
	s = output_escape((const uint8_t *)"a\0b\n\x7f\xff\\", 7);
	is_str(&t, s, "a\\x00b\\x0a\\x7f\\xff\\\\", "controls, DEL, high "
	    "bytes and backslash are escaped");
	free(s);
	s = output_escape((const uint8_t *)"", 0);
	is_str(&t, s, "", "empty stays empty");
	free(s);

	obj = json_object();
	output_json_bytes(obj, "value", (const uint8_t *)"h\xc3\xa9llo", 6);
	is_str(&t, json_string_value(json_object_get(obj, "value")),
	    "h\xc3\xa9llo", "valid UTF-8 is a string");
	output_json_bytes(obj, "key", (const uint8_t *)"\xff\x00", 2);
	ok(&t, json_object_get(obj, "key") == NULL, "invalid UTF-8 has no "
	    "plain field");
	is_str(&t, json_string_value(json_object_get(obj, "key_b64")), "/wA=",
	    "but a base64 one");
	json_decref(obj);
	return tap_done(&t);
}

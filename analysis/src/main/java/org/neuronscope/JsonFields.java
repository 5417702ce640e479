package org.neuronscope;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Strict reads of JSON fields for the library's own files: a count must be a JSON integer (5.7 is
 * not 5), a threshold a JSON number ("zero" is not 0). Jackson's lenient {@code asInt()} and
 * {@code asDouble()} would silently turn both into something else. Errors name the file and field.
 */
public final class JsonFields {
    private JsonFields() {
    }

    /** An integer in [min, max]. */
    public static int integer(JsonNode node, String field, int min, int max, Object file) {
        JsonNode v = node.path(field);
        return integerValue(v, "'" + field + "'", min, max, file);
    }

    /** An integer node (an array element, say) in [min, max]; {@code what} names it in the message. */
    public static int integerValue(JsonNode v, String what, int min, int max, Object file) {
        if (v.isMissingNode() || v.isNull()) {
            throw new FormatException(file + ": " + what + " is missing");
        }
        if (!v.isIntegralNumber()) {
            throw new FormatException(file + ": " + what + " must be an integer, is " + v);
        }
        if (!v.canConvertToLong() || v.asLong() < min || v.asLong() > max) {
            throw new FormatException(file + ": " + what + " = " + v + " is out of range [" + min + ", " + max + "]");
        }
        return v.asInt();
    }

    /** A finite number. */
    public static double number(JsonNode node, String field, Object file) {
        return numberValue(node.path(field), "'" + field + "'", file);
    }

    /** A finite number node; {@code what} names it in the message. */
    public static double numberValue(JsonNode v, String what, Object file) {
        if (v.isMissingNode() || v.isNull()) {
            throw new FormatException(file + ": " + what + " is missing");
        }
        if (!v.isNumber()) {
            throw new FormatException(file + ": " + what + " must be a number, is " + v);
        }
        double d = v.asDouble();
        if (!Double.isFinite(d)) {
            throw new FormatException(file + ": " + what + " = " + v + " is not finite");
        }
        return d;
    }

    /** A string. */
    public static String string(JsonNode node, String field, Object file) {
        JsonNode v = node.path(field);
        if (!v.isTextual()) {
            throw new FormatException(file + ": '" + field + "' must be a string, is " + (v.isMissingNode() ? "missing" : v.toString()));
        }
        return v.asText();
    }
}

/* A strict RFC 5545 checker on libical (independent of the Rust code under test).
 *
 * Reads an iCalendar stream on stdin. Prints "ERROR <message>" for every problem libical reports
 * (X-LIC-ERROR properties: unparseable lines, bad values such as an RRULE libical cannot parse) and for the
 * RFC 5545 rules checked here: VCALENDAR with PRODID and VERSION:2.0; every VEVENT with UID, DTSTAMP and
 * DTSTART; DTEND after DTSTART; every TZID defined by a VTIMEZONE in the same calendar.
 * For each VEVENT prints "EVENT <uid> <start> <end>" (Unix seconds, converted with the calendar's own
 * VTIMEZONE) and "OCC <uid> <start>" for its first 20 occurrences as libical expands the RRULE.
 * Exit status 1 when any ERROR was printed.
 * Build: gcc -O1 -o icalcheck icalcheck.c $(pkg-config --cflags --libs libical)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libical/ical.h>

static int errors = 0;

static void error(const char *msg, const char *detail) {
    printf("ERROR %s%s%s\n", msg, detail ? ": " : "", detail ? detail : "");
    errors++;
}

static void report_lic_errors(icalcomponent *c) {
    icalproperty *p;
    icalcomponent *sub;
    for (p = icalcomponent_get_first_property(c, ICAL_XLICERROR_PROPERTY); p;
         p = icalcomponent_get_next_property(c, ICAL_XLICERROR_PROPERTY)) {
        error("libical", icalproperty_get_xlicerror(p));
    }
    for (sub = icalcomponent_get_first_component(c, ICAL_ANY_COMPONENT); sub;
         sub = icalcomponent_get_next_component(c, ICAL_ANY_COMPONENT)) {
        report_lic_errors(sub);
    }
}

static icaltimezone *zone_of(icalcomponent *cal, icalproperty *prop, const char *what) {
    icalparameter *param = icalproperty_get_first_parameter(prop, ICAL_TZID_PARAMETER);
    if (!param) return icaltimezone_get_utc_timezone();
    const char *tzid = icalparameter_get_tzid(param);
    icaltimezone *tz = icalcomponent_get_timezone(cal, tzid);
    if (!tz) error(what, "TZID without a VTIMEZONE in the calendar");
    return tz;
}

int main(void) {
    size_t cap = 1 << 20, len = 0, n;
    char *buf = malloc(cap + 1);
    while ((n = fread(buf + len, 1, cap - len, stdin)) > 0) {
        len += n;
        if (len == cap) { cap *= 2; buf = realloc(buf, cap + 1); }
    }
    buf[len] = 0;
    icalcomponent *cal = icalparser_parse_string(buf);
    if (!cal) { error("parse", "no component"); return 1; }
    if (icalcomponent_isa(cal) != ICAL_VCALENDAR_COMPONENT) error("structure", "top level is not VCALENDAR");
    if (!icalcomponent_get_first_property(cal, ICAL_PRODID_PROPERTY)) error("VCALENDAR", "missing PRODID");
    icalproperty *version = icalcomponent_get_first_property(cal, ICAL_VERSION_PROPERTY);
    if (!version || strcmp(icalproperty_get_version(version), "2.0") != 0) error("VCALENDAR", "VERSION is not 2.0");
    icalrestriction_check(cal);
    report_lic_errors(cal);

    icalcomponent *ev;
    for (ev = icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT); ev;
         ev = icalcomponent_get_next_component(cal, ICAL_VEVENT_COMPONENT)) {
        const char *uid = icalcomponent_get_uid(ev);
        if (!uid) { error("VEVENT", "missing UID"); uid = "?"; }
        if (!icalcomponent_get_first_property(ev, ICAL_DTSTAMP_PROPERTY)) error("VEVENT", "missing DTSTAMP");
        icalproperty *ps = icalcomponent_get_first_property(ev, ICAL_DTSTART_PROPERTY);
        icalproperty *pe = icalcomponent_get_first_property(ev, ICAL_DTEND_PROPERTY);
        if (!ps) { error("VEVENT", "missing DTSTART"); continue; }
        icaltimezone *zs = zone_of(cal, ps, "DTSTART");
        struct icaltimetype s = icalproperty_get_dtstart(ps);
        time_t start = icaltime_as_timet_with_zone(s, zs);
        time_t end = start;
        if (pe) {
            icaltimezone *ze = zone_of(cal, pe, "DTEND");
            end = icaltime_as_timet_with_zone(icalproperty_get_dtend(pe), ze);
            if (end <= start) error("VEVENT", "DTEND is not after DTSTART");
        }
        printf("EVENT %s %lld %lld\n", uid, (long long)start, (long long)end);
        icalproperty *pr = icalcomponent_get_first_property(ev, ICAL_RRULE_PROPERTY);
        if (pr) {
            struct icalrecurrencetype r = icalproperty_get_rrule(pr);
            if (r.freq == ICAL_NO_RECURRENCE) { error("RRULE", "no frequency"); continue; }
            icalrecur_iterator *it = icalrecur_iterator_new(r, s);
            if (!it) { error("RRULE", "libical cannot iterate it"); continue; }
            struct icaltimetype next;
            int count = 0;
            while (count < 20 && !icaltime_is_null_time(next = icalrecur_iterator_next(it))) {
                printf("OCC %s %lld\n", uid, (long long)icaltime_as_timet_with_zone(next, zs));
                count++;
            }
            icalrecur_iterator_free(it);
        }
    }
    icalcomponent_free(cal);
    free(buf);
    return errors ? 1 : 0;
}

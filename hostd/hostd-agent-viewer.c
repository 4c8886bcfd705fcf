/* Messages of the agent's wire channels from viewers, to the relays. */
#include "hostd-agent-internal.h"
#include "hostd-viewer.h"

void agent_viewer_message(Agent *a, Viewer *v, const WireMessage *m) {
        switch (m->type) {
        case WIRE_TYPE_PASTE_TEXT:
                agent_paste_text(a, v, m->paste_text.text, m->paste_text.text_len);
                break;
        case WIRE_TYPE_CLIPBOARD_GRAB:
        case WIRE_TYPE_CLIPBOARD_REQUEST:
        case WIRE_TYPE_CLIPBOARD_DATA:
        case WIRE_TYPE_CLIPBOARD_RELEASE:
                agent_clipboard_viewer(a, v, m);
                break;
        case WIRE_TYPE_WINDOW_ACTION:
                agent_windows_action(a, v, &m->window_action);
                break;
        case WIRE_TYPE_RESIZE_REQUEST:
                agent_resize_request(a, v, m->resize_request.width, m->resize_request.height);
                break;
        }
}

import { useEffect, useId, useLayoutEffect, useRef, useState, type CSSProperties } from "react";
import { createPortal } from "react-dom";

export interface MenuItem {
  label: string;
  onSelect: () => void;
  danger?: boolean;
  disabled?: boolean;
  testId?: string;
}

interface MenuProps {
  label: string;
  items: readonly MenuItem[];
  testId: string;
}

const GAP = 4;

/** Where an open list goes, beside its trigger in the window: below it, or above it when
 * it would not fit below. */
export function placement(trigger: DOMRect, listHeight: number, viewport: { width: number; height: number }): CSSProperties {
  const right = viewport.width - trigger.right;
  const below = trigger.bottom + GAP;
  if (below + listHeight <= viewport.height || trigger.top - GAP - listHeight < 0) return { right, top: below };
  return { right, bottom: viewport.height - trigger.top + GAP };
}

/** A button opening a small list of actions; closes on selection, outside click, Escape or
 * scrolling. The list is drawn over the page (a portal, fixed to the window), so a table's
 * scrolling box or its sticky cells never clip or cover it. */
export function Menu({ label, items, testId }: MenuProps) {
  const [open, setOpen] = useState(false);
  const [style, setStyle] = useState<CSSProperties>({ visibility: "hidden" });
  const ref = useRef<HTMLDivElement>(null);
  const trigger = useRef<HTMLButtonElement>(null);
  const list = useRef<HTMLUListElement>(null);
  const id = useId();

  useLayoutEffect(() => {
    if (!open || !trigger.current || !list.current) return;
    const viewport = { width: window.innerWidth, height: window.innerHeight };
    setStyle(placement(trigger.current.getBoundingClientRect(), list.current.offsetHeight, viewport));
  }, [open]);

  useEffect(() => {
    if (!open) return undefined;
    const inside = (target: EventTarget | null) =>
      target instanceof Node && (ref.current?.contains(target) || list.current?.contains(target));
    const onPointer = (event: PointerEvent) => {
      if (!inside(event.target)) setOpen(false);
    };
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "Escape") {
        event.stopPropagation();
        setOpen(false);
      }
    };
    // Fixed to the window, the list would drift from its trigger as the page scrolls.
    const onScroll = (event: Event) => {
      if (!inside(event.target)) setOpen(false);
    };
    const close = () => setOpen(false);
    document.addEventListener("pointerdown", onPointer);
    document.addEventListener("keydown", onKey, true);
    document.addEventListener("scroll", onScroll, true);
    window.addEventListener("resize", close);
    return () => {
      document.removeEventListener("pointerdown", onPointer);
      document.removeEventListener("keydown", onKey, true);
      document.removeEventListener("scroll", onScroll, true);
      window.removeEventListener("resize", close);
    };
  }, [open]);

  return (
    <div className="menu" ref={ref}>
      <button
        ref={trigger}
        type="button"
        className="button button--small menu__trigger"
        aria-haspopup="menu"
        aria-expanded={open}
        aria-controls={id}
        onClick={() => {
          setStyle({ visibility: "hidden" });
          setOpen((value) => !value);
        }}
        data-testid={testId}
      >
        {label} <span aria-hidden="true">▾</span>
      </button>
      {open &&
        createPortal(
          <ul className="menu__list" role="menu" id={id} ref={list} style={style}>
            {items.map((item) => (
              <li key={item.label} role="none">
                <button
                  type="button"
                  role="menuitem"
                  className={item.danger ? "menu__item menu__item--danger" : "menu__item"}
                  disabled={item.disabled}
                  onClick={() => {
                    setOpen(false);
                    item.onSelect();
                  }}
                  data-testid={item.testId}
                >
                  {item.label}
                </button>
              </li>
            ))}
          </ul>,
          document.body,
        )}
    </div>
  );
}

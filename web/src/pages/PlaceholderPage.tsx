export function PlaceholderPage({ title }: { title: string }) {
  return (
    <section className="page" data-testid="placeholder-page">
      <header className="page__header">
        <h1>{title}</h1>
      </header>
      <div className="empty-state">This page is not available yet.</div>
    </section>
  );
}

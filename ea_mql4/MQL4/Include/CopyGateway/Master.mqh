//+------------------------------------------------------------------+
//| Master.mqh -- master mode: poll the order list, diff snapshots,  |
//| turn the differences into OrderIntents. The last view delivered  |
//| to the gateway is saved, so changes made while the EA was off    |
//| are still reported after a restart.                              |
//+------------------------------------------------------------------+
#property strict

#ifndef COPYGATEWAY_MASTER_MQH
#define COPYGATEWAY_MASTER_MQH

#include <CopyGateway/Platform.mqh>

//--- two views with the same orders, field by field
bool CgSameRows(const SOrderRow &a[],const SOrderRow &b[])
  {
   if(ArraySize(a)!=ArraySize(b))
      return(false);
   for(int i=0;i<ArraySize(a);i++)
      if(a[i].ticket!=b[i].ticket || a[i].type!=b[i].type || a[i].symbol!=b[i].symbol || a[i].comment!=b[i].comment ||
         a[i].magic!=b[i].magic || a[i].open_time!=b[i].open_time || CgPriceChanged(a[i].lots,b[i].lots,1e-8) ||
         CgPriceChanged(a[i].open_price,b[i].open_price,1e-8) || CgPriceChanged(a[i].sl,b[i].sl,1e-8) ||
         CgPriceChanged(a[i].tp,b[i].tp,1e-8))
         return(false);
   return(true);
  }

class CMasterTracker
  {
private:
   SOrderRow         m_last[];        // view after the last scan (intents queued)
   bool              m_has_last;      // a view exists (loaded or scanned)
   bool              m_changed;       // the last scan changed the view
   int               m_magic_filter;  // -1 = every order

   //--- close price and closed volume of a ticket that left MODE_TRADES
   void              FillClose(SOrderIntent &p)
     {
      if(OrderSelect(p.ticket,SELECT_BY_TICKET) && OrderCloseTime()>0)
        {
         p.price=OrderClosePrice();
         if(p.new_ticket==0 && OrderLots()>0)
            p.volume=OrderLots();
        }
      if(p.price<=0)
        {
         bool buy=(p.side=="buy");
         p.price=CgMarketPrice(buy,false,MarketInfo(p.symbol,MODE_BID),MarketInfo(p.symbol,MODE_ASK));
        }
     }

public:
                     CMasterTracker(void) : m_has_last(false),m_changed(false),m_magic_filter(-1) {}
   void              Init(const int magic_filter) { m_magic_filter=magic_filter; Reset(); }
   void              Reset(void) { ArrayResize(m_last,0); m_has_last=false; m_changed=false; }
   //--- the view saved with the intents not yet confirmed (restart catch-up)
   bool              Load(const string text)
     {
      m_has_last=CgLoadRows(text,m_last);
      return(m_has_last);
     }
   //--- master.json: {"v":1,"rows":[the view],"outbox":<outbox_json>}
   string            Serialize(const string outbox_json) const
     {
      CJsonDoc view;
      string rows="[]";
      if(view.Parse(CgSerializeRows(m_last)))
         rows=view.RawText(view.Find(view.Root(),"rows"));
      CJsonWriter w;
      w.BeginObject();
      w.KeyInt("v",1);
      w.KeyRaw("rows",rows);
      w.KeyRaw("outbox",outbox_json);
      w.EndObject();
      return(w.Text());
     }
   bool              Changed(void) const { return(m_changed); }
   //--- Scan the terminal; intents for what changed since the last scan.
   int               Scan(const CSafetyPolicy &safety,SOrderIntent &out[])
     {
      SOrderRow now_rows[];
      CgReadRows(now_rows,m_magic_filter,safety);
      ArrayResize(out,0);
      int n=0;
      if(m_has_last)
         n=CgDiffSnapshots(m_last,now_rows,out);
      for(int i=0;i<n;i++)
         if(out[i].action=="close")
            FillClose(out[i]);
      m_changed=(!m_has_last || !CgSameRows(m_last,now_rows));
      ArrayResize(m_last,0);
      for(int i=0;i<ArraySize(now_rows);i++)
        {
         ArrayResize(m_last,i+1,64);
         m_last[i]=now_rows[i];
        }
      m_has_last=true;
      return(n);
     }
   //--- current view (for SyncSnapshot)
   void              Rows(SOrderRow &rows[]) const
     {
      ArrayResize(rows,ArraySize(m_last));
      for(int i=0;i<ArraySize(m_last);i++)
         rows[i]=m_last[i];
     }
  };

#endif
